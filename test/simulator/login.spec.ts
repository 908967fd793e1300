/** Virtual pile: connection, login retries, billing-model flow, heartbeats, reconnects. */
import assert from 'assert/strict';
import { Tariff } from '../../src/billing/tariff';
import { ManualClock, VirtualPile, VirtualPileOptions } from '../../src/simulator';
import { nextEvent, sampleTariff, ScriptedPlatform } from './platform';

const PILE = '32010200000001';

describe('simulator: login, billing model, heartbeat', function () {
  this.timeout(10_000);
  let plat: ScriptedPlatform;
  let piles: VirtualPile[] = [];

  async function start(policy: ConstructorParameters<typeof ScriptedPlatform>[0], opts: Partial<VirtualPileOptions> = {}) {
    plat = new ScriptedPlatform(policy);
    const port = await plat.listen();
    const pile = new VirtualPile({ port, pileNo: PILE, speed: 1000, seed: 7, ...opts });
    piles.push(pile);
    return pile;
  }

  afterEach(async () => {
    await Promise.all(piles.map((p) => p.close()));
    piles = [];
    await plat?.close();
    assert.deepEqual(plat.badFrames, [], 'every pile frame passes the independent length/CRC check');
  });

  it('logs in with the fields of its options (0x01)', async () => {
    const pile = await start({}, { pileType: 'AC', guns: 2, version: '1.6', firmware: 'V4.1.50', iccid: '89860012345678901234', carrier: 2 });
    pile.connect();
    await pile.waitOnline();
    const login = plat.frames(0x01)[0];
    assert.equal(login.frame.seq, 0, 'the first frame of a connection has sequence 0');
    assert.deepEqual(
      { ...login.frame.body },
      {
        pileNo: PILE, pileType: 1, pileTypeName: 'AC', gunCount: 2, protocolVersion: 1.6, firmwareVersion: 'V4.1.50',
        networkType: 0, networkTypeName: 'SIM', iccid: '89860012345678901234', carrier: 2, carrierName: 'China Telecom',
      },
    );
    // Version byte on the wire: 0x10 for 1.6 (body offset 9 = frame offset 15).
    assert.equal(login.raw[15], 0x10);
  });

  it('resends the login every ~10 s on the same connection until 0x02 arrives', async () => {
    const clock = new ManualClock();
    const pile = await start({ login: (_f, n) => (n < 3 ? 'ignore' : 0) }, { clock });
    pile.connect();
    await plat.waitType(0x01);
    for (let i = 0; i < 2; i++) {
      const from = plat.mark();
      clock.advance(12_000);
      await plat.waitType(0x01, from);
    }
    await pile.waitOnline();
    const logins = plat.frames(0x01);
    assert.equal(logins.length, 3);
    assert.deepEqual(logins.map((g) => g.frame.seq), [0, 1, 2], 'own frames count up per connection');
    assert.equal(new Set(logins.map((g) => g.conn.id)).size, 1, 'retries stay on the same connection');
    assert.equal(pile.stats.logins, 1);
  });

  it('backs off after a rejected login (0x02 result 1), reconnects and logs in again from sequence 0', async () => {
    const clock = new ManualClock();
    const pile = await start({ login: (_f, n) => (n === 1 ? 1 : 0) }, { clock, timing: { loginRejectBackoffMs: 60_000 } });
    const errors: Error[] = [];
    pile.on('error', (e) => errors.push(e));
    pile.connect();
    await plat.waitType(0x01);
    await nextEvent(pile, 'state', (s: { link: string }) => s.link === 'offline');
    clock.advance(40_000);
    await new Promise((r) => setTimeout(r, 30));
    assert.equal(plat.conns.length, 1, 'no new connection before the back-off');
    clock.advance(40_000);
    await pile.waitOnline();
    assert.equal(plat.conns.length, 2);
    const second = plat.frames(0x01)[1];
    assert.equal(second.conn.id, 1);
    assert.equal(second.frame.seq, 0);
    assert.equal(pile.stats.loginRejected, 1);
    assert.ok(errors.some((e) => (e as { code?: string }).code === 'YKC_LOGIN'));
  });

  it('with no model: 0x05 "0000" → 0x06 different → 0x09 (repeated until answered) → keeps the 0x0A model', async () => {
    const model = sampleTariff('0120');
    const clock = new ManualClock();
    const pile = await start({ model, modelRequest: (_f, n) => (n === 1 ? 'ignore' : 'answer') }, { clock });
    pile.connect();
    await pile.waitOnline();
    const check = await plat.waitType(0x05);
    assert.equal(check.frame.body.modelCode, '0000');
    await plat.waitType(0x09);
    assert.equal(pile.model, null);
    const from = plat.mark();
    clock.advance(12_000);
    await plat.waitType(0x09, from);
    const m = await nextEvent<Tariff>(pile, 'tariff');
    assert.ok(m.equals(model));
    assert.ok((pile.model as Tariff | null)?.equals(model));
  });

  it('keeps its model when 0x06 says "same", and refuses a remote start while it has none', async () => {
    const model = sampleTariff('0077');
    const pile = await start({ model }, { tariff: model });
    pile.connect();
    await pile.waitOnline();
    const reply = await plat.waitType(0x05);
    assert.equal(reply.frame.body.modelCode, '0077');
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(plat.frames(0x09).length, 0, 'no 0x09 when the model is the same');

    const noModel = new VirtualPile({ port: plat.port, pileNo: '32010200000002', speed: 1000 });
    piles.push(noModel);
    plat.policy.model = null; // the platform never answers 0x09
    noModel.connect();
    await noModel.waitOnline();
    noModel.plug(1);
    const conn = (await plat.waitFor((g) => g.frame.type === 0x01 && g.frame.body.pileNo === '32010200000002')).conn;
    const from = plat.mark();
    const seq = plat.send(conn, 0x34, { tradeNo: '1'.repeat(32), pileNo: '32010200000002', gunNo: 1, logicalCardNo: '1', physicalCardNo: '0', balance: 100 });
    const r = await plat.waitType(0x33, from);
    assert.equal(r.frame.seq, seq);
    assert.equal(r.frame.body.result, 0);
    assert.equal(r.frame.body.failReason, 4);
  });

  it('heartbeats every 10 s per gun and reconnects after 3 unanswered ones', async () => {
    const clock = new ManualClock();
    let answer = true;
    const pile = await start({ heartbeat: () => (answer ? 'answer' : 'ignore') }, { clock, guns: 2 });
    pile.connect();
    await pile.waitOnline();
    for (let i = 0; i < 2; i++) {
      const from = plat.mark();
      clock.advance(12_000);
      await plat.waitType(0x03, from, 5000, (g) => g.frame.body.gunNo === 2);
    }
    const hb = plat.frames(0x03);
    assert.equal(hb.length, 4);
    assert.deepEqual(hb.map((g) => g.frame.body.gunNo), [1, 2, 1, 2]);
    assert.ok(hb.every((g) => g.frame.body.gunState === 0));
    await new Promise((r) => setTimeout(r, 20));
    answer = false;
    for (let i = 0; i < 3; i++) {
      clock.advance(10_000);
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.equal(plat.conns.length, 1, 'still on the first connection after 3 unanswered heartbeats');
    clock.advance(10_000); // the 4th tick finds 3 unanswered rounds
    await nextEvent(plat, 'close');
    assert.equal(pile.stats.heartbeatTimeouts, 1);
    answer = true;
    clock.advance(20_000);
    await pile.waitOnline();
    assert.equal(plat.conns.length, 2);
    assert.equal(plat.frames(0x01)[1].frame.seq, 0);
  });

  it('reconnects with jitter after the platform drops the socket', async () => {
    const clock = new ManualClock();
    const pile = await start({}, { clock });
    pile.connect();
    await pile.waitOnline();
    plat.current.socket.destroy();
    await nextEvent(pile, 'state', (s: { link: string }) => s.link === 'offline');
    clock.advance(7_000);
    await pile.waitOnline();
    assert.equal(plat.conns.length, 2);
    assert.equal(pile.stats.reconnects, 1);
  });

  it('refuses bad options with YKC_INPUT', () => {
    assert.throws(() => new VirtualPile({ port: 1, pileNo: '123' }), { code: 'YKC_INPUT' });
    assert.throws(() => new VirtualPile({ port: 1, pileNo: PILE, firmware: 'TOO-LONG-9' }), { code: 'YKC_INPUT' });
    assert.throws(() => new VirtualPile({ port: 1, pileNo: PILE, guns: 0 }), { code: 'YKC_INPUT' });
  });
});
