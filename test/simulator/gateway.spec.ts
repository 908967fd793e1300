/** Virtual piles against the real gateway (YkcServer) over TCP on 127.0.0.1, with a sped-up clock. */
import assert from 'assert/strict';
import { billLevels } from '../../src/billing/compute';
import { Tariff } from '../../src/billing/tariff';
import { FrameEvent, GatewayOptions, RecordEvent as GwRecordEvent, YkcServer } from '../../src/gateway';
import { DecodedFrame } from '../../src/protocol';
import { PileRecordEvent, PileSessionEvent, ScaledClock, VirtualPile, VirtualPileOptions } from '../../src/simulator';
import { nextEvent, sampleTariff } from './platform';

const CARD = '00000000D14B0A54';

describe('simulator against the gateway (YkcServer)', function () {
  this.timeout(15_000);
  let gw: YkcServer;
  let port: number;
  let piles: VirtualPile[] = [];
  const tariff = sampleTariff('0100');

  async function start(opts: Partial<GatewayOptions> = {}) {
    // A pile at 5,000× speed heartbeats every 2 ms: far beyond a real pile's rate (maxFramesPerSecond).
    gw = new YkcServer({ maxFramesPerSecond: 100_000, ...opts });
    gw.setTariff(null, tariff.toBody() as unknown as Parameters<YkcServer['setTariff']>[1]);
    port = (await gw.listen(0, '127.0.0.1')).port;
  }

  function pile(n: number, opts: Partial<VirtualPileOptions> = {}): VirtualPile {
    const p = new VirtualPile({ port, pileNo: String(32010200000000 + n), speed: 1000, seed: n, ...opts });
    piles.push(p);
    return p;
  }

  async function online(p: VirtualPile): Promise<VirtualPile> {
    const model = p.model ? Promise.resolve() : nextEvent(p, 'tariff');
    p.connect();
    await p.waitOnline();
    await model;
    return p;
  }

  /** The gateway's decoded reply to a command. */
  async function ask(p: VirtualPile, type: number, body: Record<string, unknown>): Promise<DecodedFrame> {
    const r = await gw.request(p.pileNo, { type, body: { pileNo: p.pileNo, ...body } }, { timeoutMs: 3000 });
    assert.ok(r, `0x${type.toString(16)} answered`);
    return r;
  }

  afterEach(async () => {
    await Promise.all(piles.map((p) => p.close()));
    piles = [];
    await gw?.close();
  });

  it('piles of every kind log in, take the gateway’s tariff and heartbeat', async () => {
    await start({ autoTimeSync: true, timeSyncJitterMs: 0 });
    const kinds: Partial<VirtualPileOptions>[] = [
      { pileType: 'DC', guns: 2, version: '1.5', clock: new ScaledClock(1000, Date.UTC(2020, 0, 1)) },
      { pileType: 'AC', guns: 1, version: '1.6', firmware: 'AC-0.9' },
      { pileType: 'DC', guns: 4, version: '1.6' },
    ];
    const synced = nextEvent<FrameEvent>(gw, 'frame', (e) => e.frame.type === 0x55 && e.pileNo === '32010200000001');
    const ps = await Promise.all(kinds.map((k, i) => online(pile(i + 1, k))));
    assert.equal(gw.onlineCount(), 3);
    const info = gw.piles().sort((a, b) => String(a.pileNo).localeCompare(String(b.pileNo)));
    assert.deepEqual(info.map((x) => [x.version, x.pileType, x.gunCount]), [['1.5', 'DC', 2], ['1.6', 'AC', 1], ['1.6', 'DC', 4]]);
    assert.equal(info[1].firmwareVersion, 'AC-0.9');
    for (const p of ps) assert.ok(p.model?.equals(tariff), 'each pile keeps the model the gateway gave it');
    await nextEvent<FrameEvent>(gw, 'frame', (e) => e.frame.type === 0x03 && e.pileNo === ps[2].pileNo && e.frame.body.gunNo === 4);
    // Pile 1's clock started in 2020; the gateway's time sync at login brought it to today
    // (give or take what 1000× time adds during the test).
    await synced;
    assert.ok(Math.abs(ps[0].wallNow() - Date.now()) < 3600_000, `pile clock ${new Date(ps[0].wallNow()).toISOString()}`);
  });

  it('remote start and stop through request(); the record reaches the gateway, amounts per the billing library, confirmed', async () => {
    await start();
    const p = await online(pile(1, { speed: 5_000 }));
    p.plug(1, { batteryKwh: 300, soc: 10 });
    const trade = `${p.pileNo}01250106094500001`.padEnd(32, '0');
    const started = await ask(p, 0x34, { tradeNo: trade, gunNo: 1, logicalCardNo: '1000000000000001', physicalCardNo: CARD, balance: 1000 });
    assert.deepEqual([started.body.result, started.body.tradeNo], [1, trade]);
    await nextEvent<FrameEvent>(gw, 'frame', (e) => e.frame.type === 0x13 && e.frame.body.gunState === 3);
    // Let half an hour of pile time pass (0.36 s at 5 000×).
    await nextEvent<FrameEvent>(gw, 'frame', (e) => e.frame.type === 0x13 && (e.frame.body.chargingMinutes as number) >= 30, 5000);
    const recP = nextEvent<GwRecordEvent>(gw, 'record');
    const stopped = await ask(p, 0x36, { gunNo: 1 });
    assert.equal(stopped.body.result, 1);
    const rec = (await recP).frame.body;
    assert.equal(rec.tradeNo, trade);
    assert.equal(rec.stopReason, 0x40);
    assert.ok((rec.totalEnergy as number) >= 30, `≥ 30 min at 60 kW (got ${rec.totalEnergy} kWh)`);
    const energies = [rec.sharpEnergy, rec.peakEnergy, rec.flatEnergy, rec.valleyEnergy].map((e) => Math.round((e as number) * 1e4));
    const bill = billLevels(Tariff.fromBody(gw.tariffFor(p.pileNo)!), energies);
    assert.deepEqual([rec.sharpAmount, rec.peakAmount, rec.flatAmount, rec.valleyAmount, rec.totalAmount], [...bill.levels.map((l) => l.amount / 1e4), bill.totalAmount / 1e4]);
    await nextEvent<PileRecordEvent>(p, 'record', (r) => r.event === 'confirmed');
  });

  it('late plug: request() gets the 0x05 refusal, the second 0x33 arrives as a frame and the gun charges', async () => {
    await start();
    const p = await online(pile(2));
    const trade = '12345678901234567890123456789012';
    const first = await ask(p, 0x34, { tradeNo: trade, gunNo: 1, logicalCardNo: '1', physicalCardNo: CARD, balance: 50 });
    assert.deepEqual([first.body.result, first.body.failReason], [0, 5]);
    const second = nextEvent<FrameEvent>(gw, 'frame', (e) => e.frame.type === 0x33);
    const charging = nextEvent(gw, 'gunState', (c: { state: number; pileNo: string }) => c.state === 3 && c.pileNo === p.pileNo);
    p.plug(1);
    const f = (await second).frame;
    assert.deepEqual([f.body.result, f.body.tradeNo, f.seq], [1, trade, first.seq]);
    await charging;
  });

  it('card start answered by the flow through the gateway (0x31 → reply 0x32)', async () => {
    await start();
    const p = await online(pile(3));
    gw.on('frame', (e) => {
      if (e.frame.type !== 0x31) return;
      gw.reply(e.pileNo!, e.frame.seq, {
        type: 0x32,
        body: { tradeNo: '9'.repeat(32), pileNo: e.pileNo, gunNo: e.frame.body.gunNo, logicalCardNo: '1000000000000009', balance: 20, result: 1, failReason: 0 },
      });
    });
    p.plug(1);
    const out = await p.card(1, CARD);
    assert.equal(out.result, 'started');
    const rec = nextEvent<GwRecordEvent>(gw, 'record');
    await p.card(1, CARD);
    const b = (await rec).frame.body;
    assert.deepEqual([b.startType, b.stopReason, b.physicalCardNo, b.tradeNo], [2, 0x45, CARD, '9'.repeat(32)]);
  });

  it('every command sent with request() is answered', async () => {
    await start();
    const p = await online(pile(4, { version: '1.6', guns: 2 }));
    p.plug(2);
    const rt = await ask(p, 0x12, { gunNo: 2 });
    assert.deepEqual([rt.type, rt.body.gunPlugged], [0x13, 1]);
    assert.equal((await ask(p, 0x44, { cards: [{ logicalCardNo: '1000000000000001', physicalCardNo: CARD }] })).body.result, 1);
    assert.deepEqual((await ask(p, 0x48, { cards: [{ physicalCardNo: CARD }] })).body.cards, [{ physicalCardNo: CARD, result: 1, resultName: 'stored' }]);
    assert.equal(((await ask(p, 0x46, { cards: [{ physicalCardNo: CARD }] })).body.cards as { result: number }[])[0].result, 1);
    assert.equal((await ask(p, 0x52, { workState: 0, maxPowerPercent: 80 })).body.result, 1);
    assert.equal((await ask(p, 0x56, { time: '2025-06-01 08:00:00' })).body.time, '2025-06-01 08:00:00');
    const push = new Tariff({ modelCode: '0300', elec: [1, 2, 3, 4], service: [5, 6, 7, 8], slots: new Array(48).fill(0) });
    assert.equal((await ask(p, 0x58, push.toBody() as unknown as Record<string, unknown>)).body.result, 1);
    assert.ok(p.model?.equals(push));
    assert.equal((await ask(p, 0x62, { gunNo: 1, action: 0xff })).body.result, 1);
    assert.equal((await ask(p, 0x94, { pileModel: 2, pilePower: 60, ftpHost: 'h', ftpPort: 21, ftpUser: 'u', ftpPassword: 'p', ftpPath: '/f', runWhen: 1, timeoutMinutes: 5 })).body.status, 2);
    const par = await ask(p, 0xa4, { tradeNo: '3'.repeat(32), gunNo: 2, logicalCardNo: '1', physicalCardNo: CARD, balance: 10, parallelNo: '250601080000' });
    assert.deepEqual([par.type, par.body.result, par.body.parallelNo], [0xa3, 1, '250601080000']);
    const bal = await ask(p, 0x42, { gunNo: 2, physicalCardNo: CARD, balance: 99 });
    assert.deepEqual([bal.type, bal.body.result], [0x41, 0]);
    const stop = await ask(p, 0x36, { gunNo: 2 });
    assert.equal(stop.body.result, 1);
    const offline = nextEvent(gw, 'offline');
    const back = nextEvent(gw, 'online', (e: { pileNo: string | null }) => e.pileNo === p.pileNo);
    assert.equal((await ask(p, 0x92, { runWhen: 1 })).body.result, 1);
    await offline;
    await back;
    assert.equal(p.stats.reboots, 1);
  });

  it('records held until the flow confirms: the pile resends, the gateway flags duplicates, then confirms', async () => {
    await start({ recordConfirm: 'after-store' });
    const p = await online(pile(5, { speed: 200 }));
    p.plug(1);
    await ask(p, 0x34, { tradeNo: '4'.repeat(32), gunNo: 1, logicalCardNo: '1', physicalCardNo: CARD, balance: 100 });
    const rec = nextEvent<GwRecordEvent>(gw, 'record');
    p.stop(1);
    assert.equal((await rec).held, true);
    await nextEvent(gw, 'recordDuplicate');
    const confirmed = nextEvent<PileRecordEvent>(p, 'record', (r) => r.event === 'confirmed');
    assert.equal(gw.confirmRecord('4'.repeat(32)), true);
    assert.ok((await confirmed).attempt >= 2);
    assert.ok(gw.counters.recordsDuplicate >= 1);
  });

  it('faults the gateway must tolerate: hi-first CRC, garbage, split and merged writes, stale connection', async () => {
    await start();
    // 100×, not 1000×: a busy event loop must not stretch into three missed heartbeat periods.
    const ps = [
      pile(11, { speed: 100, faults: { hiFirstCrc: true } }),
      pile(12, { speed: 100, faults: { garbage: 0.5 } }),
      pile(13, { speed: 100, faults: { splitWrites: true } }),
      pile(14, { speed: 100, faults: { mergeWrites: true } }),
      pile(15, { speed: 100, faults: { staleConnection: true } }),
    ];
    await Promise.all(ps.map(online));
    for (const p of ps) p.plug(1);
    await Promise.all(ps.map((p, i) => ask(p, 0x34, { tradeNo: String(i + 1).repeat(32), gunNo: 1, logicalCardNo: '1', physicalCardNo: CARD, balance: 100 })));
    const recs = new Set<string>();
    const all = new Promise<void>((resolve) =>
      gw.on('record', (e) => {
        recs.add(String(e.pileNo));
        if (recs.size === ps.length) resolve();
      }),
    );
    await Promise.all(ps.map((p) => ask(p, 0x36, { gunNo: 1 })));
    await all;
    assert.ok(gw.counters.hiFirstCrcFrames > 0);
    assert.ok(gw.counters.garbageBytes > 0);
    assert.equal(gw.counters.crcErrors, 0);
    assert.ok(gw.counters.replaced >= 1, 'the stale connection was replaced by the new login');
    assert.equal(gw.onlineCount(), ps.length);
    assert.equal(gw.counters.decodeErrors, 0);
  });

  it('a silent pile goes offline at the gateway and comes back when it speaks again', async () => {
    await start({ heartbeatPeriodMs: 100, missedHeartbeats: 3 });
    const p = await online(pile(6, { speed: 100 }));
    const off = nextEvent<{ pileNo: string; reason: string }>(gw, 'offline');
    p.setFaults({ silence: true });
    const e = await off;
    assert.equal(e.pileNo, p.pileNo);
    assert.match(e.reason, /no traffic/);
    p.setFaults({ silence: false });
    await nextEvent(gw, 'online', (x: { pileNo: string | null }) => x.pileNo === p.pileNo, 5000);
    const started = nextEvent<PileSessionEvent>(p, 'session', (s) => s.event === 'started');
    p.plug(1);
    await ask(p, 0x34, { tradeNo: '7'.repeat(32), gunNo: 1, logicalCardNo: '1', physicalCardNo: CARD, balance: 10 });
    await started;
  });
});
