/** Virtual pile: charge sessions — remote and card starts, stops, records and their amounts. */
import assert from 'assert/strict';
import { billLevels, splitMeterCurve } from '../../src/billing/compute';
import { ManualClock, PileRecordEvent, PileSessionEvent, VirtualPile, VirtualPileOptions } from '../../src/simulator';
import { advance, china, tick } from './helpers';
import { Got, nextEvent, sampleTariff, ScriptedPlatform } from './platform';

const PILE = '32010200000001';
const TRADE = '32010200000001012501060945000001';
const CARD = '00000000D14B0A54';

describe('simulator: charge sessions and records', function () {
  this.timeout(20_000);
  let plat: ScriptedPlatform;
  let piles: VirtualPile[] = [];
  let clock: ManualClock;
  const tariff = sampleTariff('0100');

  async function start(policy: ConstructorParameters<typeof ScriptedPlatform>[0] = {}, opts: Partial<VirtualPileOptions> = {}) {
    plat = new ScriptedPlatform({ model: tariff, ...policy });
    const port = await plat.listen();
    clock = new ManualClock(china(2025, 1, 6, 9, 45));
    const pile = new VirtualPile({ port, pileNo: PILE, clock, seed: 3, powerKw: 60, meterStart: 123_4567, ...opts });
    piles.push(pile);
    pile.connect();
    await pile.waitOnline();
    if (!pile.model) await nextEvent(pile, 'tariff');
    return pile;
  }

  function remoteStart(pile: VirtualPile, over: Record<string, unknown> = {}): number {
    return plat.send(plat.current, 0x34, {
      tradeNo: TRADE, pileNo: pile.pileNo, gunNo: 1, logicalCardNo: '1000000000000001', physicalCardNo: CARD, balance: 1000, ...over,
    });
  }

  afterEach(async () => {
    await Promise.all(piles.map((p) => p.close()));
    piles = [];
    await plat?.close();
    assert.deepEqual(plat.badFrames, []);
  });

  it('remote start → BMS + realtime frames → 0x36 stop → 0x35, 0x19, 0x3B whose amounts are the billing library’s, 0x40 confirms', async () => {
    const pile = await start();
    pile.plug(1, { batteryKwh: 200, soc: 10 });
    const from = plat.mark();
    const seq = remoteStart(pile);
    const reply = await plat.waitType(0x33, from);
    assert.equal(reply.frame.seq, seq, 'the reply copies the request sequence');
    assert.deepEqual([reply.frame.body.result, reply.frame.body.failReason, reply.frame.body.tradeNo], [1, 0, TRADE]);
    await plat.waitType(0x17, from);
    const brm = plat.frames(0x15, from)[0].frame.body;
    assert.equal(brm.tradeNo, TRADE);
    const rt = await plat.waitType(0x13, from, 5000, (g) => g.frame.body.gunState === 3);
    assert.equal(rt.frame.body.tradeNo, TRADE);
    assert.equal(rt.frame.body.gunPlugged, 1);

    // 90 minutes: 15 at the flat rate (09:45–10:00), 75 at the peak rate (10:00–11:15).
    await advance(clock, 90 * 60_000, 10_000);
    const during = plat.frames(0x13, from).filter((g) => g.frame.body.gunState === 3);
    assert.ok(during.length >= 355, `0x13 every 15 s while charging (got ${during.length})`);
    assert.ok(plat.frames(0x23, from).length >= 355 && plat.frames(0x25, from).length >= 355, '0x23/0x25 every 15 s');
    const energies = during.map((g) => g.frame.body.chargedEnergy as number);
    assert.ok(energies.every((e, i) => i === 0 || e >= energies[i - 1]), 'energy never goes down');
    assert.ok(during.every((g) => g.frame.body.tradeNo === TRADE), 'the same trade number in every 0x13 of the session');

    const stopFrom = plat.mark();
    const stopSeq = plat.send(plat.current, 0x36, { pileNo: PILE, gunNo: 1 });
    const rec = await plat.waitType(0x3b, stopFrom);
    const stopReply = plat.frames(0x35, stopFrom)[0];
    assert.equal(stopReply.frame.seq, stopSeq);
    assert.deepEqual([stopReply.frame.body.result, stopReply.frame.body.failReason], [1, 0]);
    const end = plat.frames(0x19, stopFrom)[0];
    assert.ok(stopReply.index < end.index && end.index < rec.index, 'order: 0x35, 0x19, 0x3B');
    const idle = await plat.waitType(0x13, rec.index);
    assert.equal(idle.frame.body.gunState, 2);
    assert.equal(idle.frame.body.tradeNo, '0'.repeat(32));

    const b = rec.frame.body;
    assert.equal(b.tradeNo, TRADE);
    assert.equal(b.startTime, '2025-01-06 09:45:00');
    assert.equal(b.endTime, '2025-01-06 11:15:00');
    assert.equal(b.flatEnergy, 15);
    assert.equal(b.peakEnergy, 75);
    assert.equal(b.sharpEnergy, 0);
    assert.equal(b.valleyEnergy, 0);
    assert.equal(b.totalEnergy, 90);
    assert.equal(b.meterStart, 123.4567);
    assert.equal(b.meterEnd, 213.4567);
    // Hand figures: flat (4.0 + 0.4) × 15 = 66, peak (3.0 + 0.4) × 75 = 255.
    assert.deepEqual([b.flatPrice, b.flatAmount, b.peakPrice, b.peakAmount, b.totalAmount], [4.4, 66, 3.4, 255, 321]);
    // And the billing library on the record's own energies gives the record's amounts.
    const bill = billLevels(tariff, [b.sharpEnergy, b.peakEnergy, b.flatEnergy, b.valleyEnergy].map((e) => Math.round((e as number) * 1e4)));
    assert.deepEqual(
      bill.levels.map((l) => l.amount / 1e4),
      [b.sharpAmount, b.peakAmount, b.flatAmount, b.valleyAmount],
    );
    assert.equal(bill.totalAmount / 1e4, b.totalAmount);
    assert.deepEqual([b.startType, b.stopReason, b.physicalCardNo], [1, 0x40, CARD]);
    await nextEvent<PileRecordEvent>(pile, 'record', (r) => r.event === 'confirmed');
    assert.equal(pile.snapshot().pendingRecords, 0);
  });

  it('splits energy at slot boundaries the way the billing library splits the meter curve', async () => {
    const pile = await start({}, { powerKw: 7.4, pileType: 'AC', meterStart: 0, timing: { heartbeatMs: 60_000 } });
    pile.plug(1, { batteryKwh: 500, soc: 0 });
    await advance(clock, 7 * 60_000 + 13_000, 5_000); // start at 09:52:13, off the half-hour grid
    const from = plat.mark();
    remoteStart(pile);
    await plat.waitType(0x33, from);
    await advance(clock, 3 * 3600_000 + 11 * 60_000, 60_000);
    pile.stop(1);
    const b = (await plat.waitType(0x3b, from)).frame.body;
    assert.equal(b.startTime, '2025-01-06 09:52:13');
    assert.equal(b.endTime, '2025-01-06 13:03:13');
    // 7.4 kW for 3 h 11 min = 23.556666… kWh, never rounded up.
    assert.equal(b.totalEnergy, 23.5566);
    const split = splitMeterCurve(tariff, [
      { time: b.startTime as string, meterKWh: b.meterStart as number },
      { time: b.endTime as string, meterKWh: b.meterEnd as number },
    ]);
    const got = [b.sharpEnergy, b.peakEnergy, b.flatEnergy, b.valleyEnergy].map((e) => Math.round((e as number) * 1e4));
    // A constant power makes the meter linear, so the library's interpolation agrees to a unit.
    split.levelEnergies.forEach((e, i) => assert.ok(Math.abs(e - got[i]) <= 1, `level ${i}: ${e} vs ${got[i]}`));
    assert.equal(b.vin, '', 'AC piles have no BMS, so no VIN');
    assert.equal(plat.frames(0x15, from).length + plat.frames(0x23, from).length + plat.frames(0x19, from).length, 0, 'no BMS frames on AC');
  });

  it('gun not plugged: 0x33 reason 0x05, then a second 0x33 (same sequence) when plugged within 60 s', async () => {
    const pile = await start();
    const from = plat.mark();
    const seq = remoteStart(pile);
    const first = await plat.waitType(0x33, from);
    assert.deepEqual([first.frame.seq, first.frame.body.result, first.frame.body.failReason], [seq, 0, 5]);
    await advance(clock, 55_000);
    assert.equal(plat.frames(0x33, from).length, 1);
    const started = nextEvent<PileSessionEvent>(pile, 'session', (e) => e.event === 'started');
    pile.plug(1);
    const second = await plat.waitType(0x33, first.index + 1);
    assert.deepEqual([second.frame.seq, second.frame.body.result, second.frame.body.failReason, second.frame.body.tradeNo], [seq, 1, 0, TRADE]);
    assert.equal((await started).tradeNo, TRADE);
  });

  it('gun not plugged and the window passes: no second 0x33, no session', async () => {
    const pile = await start();
    const expired = nextEvent<PileSessionEvent>(pile, 'session', (e) => e.event === 'expired');
    const from = plat.mark();
    remoteStart(pile);
    await plat.waitType(0x33, from);
    await advance(clock, 61_000);
    await expired;
    pile.plug(1);
    const rt = await plat.waitType(0x13, from, 5000, (g) => g.frame.body.gunPlugged === 1);
    assert.equal(rt.frame.body.gunState, 2);
    assert.equal(plat.frames(0x33, from).length, 1);
    assert.equal(pile.snapshot().guns[0].session, null);
  });

  it('answers a busy gun with 0x02, a foreign pile number with 0x01, a faulty gun with 0x03', async () => {
    const pile = await start({}, { guns: 2 });
    pile.plug(1);
    pile.plug(2);
    let from = plat.mark();
    remoteStart(pile);
    await plat.waitType(0x33, from);
    from = plat.mark();
    remoteStart(pile, { tradeNo: '9'.repeat(32) });
    const busy = await plat.waitType(0x33, from);
    assert.deepEqual([busy.frame.body.result, busy.frame.body.failReason], [0, 2]);
    from = plat.mark();
    remoteStart(pile, { pileNo: '32010200000099', gunNo: 2 });
    const other = await plat.waitType(0x33, from);
    assert.deepEqual([other.frame.body.result, other.frame.body.failReason], [0, 1]);
    pile.fault(2);
    from = plat.mark();
    remoteStart(pile, { gunNo: 2, tradeNo: '8'.repeat(32) });
    const faulty = await plat.waitType(0x33, from);
    assert.deepEqual([faulty.frame.body.result, faulty.frame.body.failReason], [0, 3]);
    const hb = plat.mark();
    await advance(clock, 12_000);
    const beats = plat.frames(0x03, hb);
    assert.deepEqual(beats.map((g) => [g.frame.body.gunNo, g.frame.body.gunState]), [[1, 0], [2, 1]]);
  });

  it('card start: 0x31 → 0x32 accepted → charge; the same card stops it (0x45) and the record names the card', async () => {
    const pile = await start({ cardStart: () => ({ accept: true, tradeNo: '5'.repeat(32), balance: 88.5 }) });
    pile.plug(1);
    const from = plat.mark();
    const out = await pile.card(1, 'D14B0A54');
    assert.equal(out.result, 'started');
    const req = plat.frames(0x31, from)[0].frame.body;
    assert.deepEqual([req.startMethod, req.passwordRequired, req.physicalCardNo, req.gunNo], [1, 0, CARD, 1]);
    if (out.result === 'started') assert.deepEqual([out.session.startType, out.session.balance, out.session.tradeNo], [2, 885_000, '5'.repeat(32)]);
    await advance(clock, 10 * 60_000);
    const stop = await pile.card(1, CARD);
    assert.deepEqual(stop, { result: 'stopped', tradeNo: '5'.repeat(32) });
    const b = (await plat.waitType(0x3b, from)).frame.body;
    assert.deepEqual([b.startType, b.stopReason, b.physicalCardNo, b.tradeNo, b.totalEnergy], [2, 0x45, CARD, '5'.repeat(32), 10]);
  });

  it('card refused by the platform: no session, the reason comes back', async () => {
    const pile = await start({ cardStart: () => ({ accept: false, reason: 3 }) });
    pile.plug(1);
    const out = await pile.card(1, CARD);
    assert.deepEqual(out, { result: 'refused', reason: 'balance too low', failReason: 3 });
    assert.equal(pile.snapshot().guns[0].state, 2);
  });

  it('card with no answer: an offline-list card starts an offline session (start type 0x04, pile-made trade number)', async () => {
    const pile = await start({}, { offlineCards: [{ logicalCardNo: '1000000000000042', physicalCardNo: CARD }] });
    pile.plug(1);
    const p = pile.card(1, CARD);
    await plat.waitType(0x31);
    await advance(clock, 16_000);
    const out = await p;
    assert.equal(out.result, 'started');
    const trade = out.result === 'started' ? out.session.tradeNo : '';
    assert.match(trade, /^3201020000000101250106094\d{7}$/, 'pile + gun + yyMMddHHmmss + counter');
    await advance(clock, 60_000);
    await pile.card(1, CARD);
    const b = (await plat.waitType(0x3b)).frame.body;
    assert.deepEqual([b.startType, b.tradeNo, b.stopReason], [4, trade, 0x45]);
  });

  it('offline: a session without a link is stored and its record delivered after the next login', async () => {
    plat = new ScriptedPlatform({ model: tariff });
    const port = await plat.listen();
    clock = new ManualClock(china(2025, 1, 6, 1, 0)); // valley (00:00–08:00)
    const pile = new VirtualPile({ port, pileNo: PILE, clock, tariff, offlineCards: [{ logicalCardNo: '1', physicalCardNo: CARD }] });
    piles.push(pile);
    pile.plug(1);
    const out = await pile.card(1, CARD);
    assert.equal(out.result, 'started');
    clock.advance(30 * 60_000);
    const stored = nextEvent<PileRecordEvent>(pile, 'record', (r) => r.event === 'stored');
    pile.unplug(1);
    assert.equal((await stored).body.stopReason, 0x6b, 'unplugging mid-session ends it: control pilot lost');
    pile.connect();
    await pile.waitOnline();
    const rec = await plat.waitType(0x3b);
    assert.deepEqual([rec.frame.body.startType, rec.frame.body.valleyEnergy, rec.frame.body.valleyAmount], [4, 30, 162]);
    await nextEvent<PileRecordEvent>(pile, 'record', (r) => r.event === 'confirmed');
  });

  it('resends an unacknowledged record 3 × 30 s and once more after 5 min, then gives up', async () => {
    const pile = await start({ record: () => 'ignore' });
    pile.plug(1);
    remoteStart(pile);
    await plat.waitType(0x33);
    await advance(clock, 60_000);
    const sentAt: number[] = [];
    pile.on('record', (r: PileRecordEvent) => {
      if (r.event === 'sent') sentAt.push(clock.now());
    });
    const abandoned = nextEvent<PileRecordEvent>(pile, 'record', (r) => r.event === 'abandoned');
    const t0 = clock.now();
    pile.stop(1);
    await advance(clock, 8 * 60_000, 5_000);
    await abandoned;
    assert.deepEqual(sentAt.map((t) => (t - t0) / 1000), [0, 30, 60, 90, 390]);
    const sent = plat.frames(0x3b);
    assert.equal(sent.length, 5);
    assert.ok(sent.every((g) => g.frame.body.tradeNo === TRADE));
    assert.equal(new Set(sent.map((g) => g.frame.seq)).size, 5, 'each resend is a new frame of the pile');
  });

  it('stops resending once 0x40 arrives', async () => {
    const pile = await start({ record: (_f, n) => (n < 3 ? 'ignore' : 0) });
    pile.plug(1);
    remoteStart(pile);
    await plat.waitType(0x33);
    await advance(clock, 60_000);
    const confirmed = nextEvent<PileRecordEvent>(pile, 'record', (r) => r.event === 'confirmed');
    pile.stop(1);
    await advance(clock, 10 * 60_000, 10_000);
    assert.equal((await confirmed).attempt, 3);
    assert.equal(plat.frames(0x3b).length, 3);
    assert.equal(pile.stats.recordsConfirmed, 1);
  });

  it('stops by itself: car full (0x41), money exhausted (0x6E), fault (0x71), zero balance refused (0x4E)', async () => {
    const pile = await start({}, { guns: 4 });
    for (let g = 1; g <= 4; g++) pile.plug(g, g === 1 ? { batteryKwh: 10, soc: 90 } : { batteryKwh: 300, soc: 5 });
    const recs = new Map<number, Got>();
    plat.on('frame', (g: Got) => {
      if (g.frame.type === 0x3b) recs.set(g.frame.body.gunNo as number, g);
    });
    const trade = (g: number) => `3201020000000${g}`.padEnd(32, '0');
    remoteStart(pile, { gunNo: 1, tradeNo: trade(1) });
    remoteStart(pile, { gunNo: 2, tradeNo: trade(2), balance: 1 });
    remoteStart(pile, { gunNo: 3, tradeNo: trade(3) });
    const zero = plat.mark();
    remoteStart(pile, { gunNo: 4, tradeNo: trade(4), balance: 0 });
    const refused = await plat.waitType(0x33, zero, 5000, (g) => g.frame.body.gunNo === 4);
    assert.deepEqual([refused.frame.body.result], [0]);
    await tick();
    await advance(clock, 30_000, 1_000);
    pile.fault(3);
    await advance(clock, 2 * 60_000, 1_000);
    await tick();
    const r1 = recs.get(1)!.frame.body;
    assert.equal(r1.stopReason, 0x41);
    assert.ok(Math.abs((r1.totalEnergy as number) - 1) < 0.002, `1 kWh to fill 10 % of 10 kWh (got ${r1.totalEnergy})`);
    const r2 = recs.get(2)!.frame.body;
    assert.equal(r2.stopReason, 0x6e);
    assert.ok((r2.totalAmount as number) >= 1 && (r2.totalAmount as number) < 1.01, `stops when 1.00 yuan is spent (got ${r2.totalAmount})`);
    assert.equal(recs.get(3)!.frame.body.stopReason, 0x71);
    const r4 = recs.get(4)!.frame.body;
    assert.deepEqual([r4.stopReason, r4.totalEnergy, r4.totalAmount], [0x4e, 0, 0]);
    const faultRt = plat.frames(0x13).filter((g) => g.frame.body.gunNo === 3).pop()!;
    assert.deepEqual([faultRt.frame.body.gunState, faultRt.frame.body.hardwareFaults], [1, ['noPowerModule']]);
  });
});
