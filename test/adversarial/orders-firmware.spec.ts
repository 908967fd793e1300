/**
 * Outside review of the order watchdog (issue 14): piles that are not ours — a raw socket client
 * written from docs/protocol.md (test/support/ykc-firmware.ts: own BCD, CP56, CRC) — behaving like real,
 * imperfect firmware against the real gateway on 127.0.0.1 and an OrderTracker attached to it.
 */
import assert from 'assert/strict';
import { Rig } from '../orders/harness';
import { Firmware, firmware, ZERO_TRADE } from '../support/ykc-firmware';

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}\+08:00$/;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let n = 0;
const pileNo = () => String(45010000000000 + ++n + (process.pid % 1000) * 100);
const tradeOf = (pile: string, gun: number, k: number) => `${pile}0${gun}2612050800${String(k).padStart(6, '0')}`;

describe('adversarial: order watchdog against imperfect firmware (raw sockets, docs/protocol.md only)', function () {
  this.timeout(30_000);
  let rig: Rig;
  const fws: Firmware[] = [];
  beforeEach(() => {
    rig = new Rig();
  });
  afterEach(async () => {
    for (const f of fws.splice(0)) f.pile.close();
    await rig.close();
  });
  const connect = async (pile: string) => {
    const f = await firmware(rig.port, pile);
    fws.push(f);
    return f;
  };
  const codes = (t: string) => rig.alarms.items.filter((a) => a.tradeNo === t).map((a) => `${a.code}:${a.active ? 'up' : 'down'}`);

  it('card start (0x31 → 0x32), 0x13 with odd states (fault 0x01 mid-charge, charging again), record → one card order, no alarm', async () => {
    await rig.start({}, { realtimeSilentMs: 20_000 });
    const pile = pileNo();
    const t = tradeOf(pile, 1, 1);
    rig.gw.on('frame', (ev) => {
      if (ev.frame.type !== 0x31 || ev.pileNo !== pile) return;
      rig.gw.reply(pile, ev.frame.seq, { type: 0x32, body: { tradeNo: t, pileNo: pile, gunNo: 1, logicalCardNo: '0000000000000002', balance: 300, result: 1, failReason: 0 } });
    });
    const fw = await connect(pile);
    fw.card(1, 'D14B0A54');
    await fw.expect(0x32);
    await rig.states.wait((s) => s.tradeNo === t && s.state === 'started');
    fw.realtime(1, t, { state: 3, energy: 1000 });
    await rig.states.wait((s) => s.tradeNo === t && s.state === 'charging');
    fw.realtime(1, t, { state: 1, energy: 1500 }); // a transient fault report
    await rig.states.wait((s) => s.tradeNo === t && s.state === 'ended');
    fw.realtime(1, t, { state: 3, energy: 2000 }); // and charging again
    await rig.states.wait((s) => s.tradeNo === t && s.state === 'charging' && (s.realtime?.energy ?? 0) === 2000);
    fw.realtime(1, ZERO_TRADE, { state: 2, plugged: 0 });
    fw.record(1, t, { start: [2026, 12, 5, 8, 0, 0], end: [2026, 12, 5, 8, 5, 0], meterStart: 10_000_000, meterEnd: 10_002_000, energy: 2000, startType: 2 });
    const closed = await rig.states.wait((s) => s.tradeNo === t && s.state === 'closed');
    assert.equal(closed.origin, 'card');
    assert.equal(closed.closeReason, 'confirmed');
    assert.match(String(closed.startedAt), ISO);
    assert.deepEqual(codes(t), []);
    assert.equal(rig.tracker.openCount(), 0);
  });

  it('offline session: the record comes first (start type 0x04) → an "offline" order created from it and closed; a copy with another seq changes nothing', async () => {
    await rig.start();
    const pile = pileNo();
    const t = tradeOf(pile, 2, 2);
    const fw = await connect(pile);
    const body = fw.record(2, t, { start: [2026, 12, 5, 6, 0, 0], end: [2026, 12, 5, 6, 30, 0], meterStart: 5_000_000, meterEnd: 5_200_000, energy: 200_000, startType: 4 });
    await fw.expect(0x40);
    const closed = await rig.states.wait((s) => s.tradeNo === t && s.state === 'closed');
    assert.equal(closed.origin, 'offline');
    fw.sendSeq(0x3b, body, 0x7777); // firmware resends with a new sequence number
    await fw.expect(0x40);
    await sleep(200);
    assert.deepEqual(rig.states.items.filter((s) => s.tradeNo === t).map((s) => s.state), ['recorded', 'confirmed', 'closed']);
    assert.deepEqual(codes(t), []);
  });

  it('silent mid-charge with the TCP link open → realtimeSilent once; 0x13 again → cleared once', async () => {
    await rig.start({}, { realtimeSilentMs: 1500 });
    const pile = pileNo();
    const t = tradeOf(pile, 1, 3);
    const fw = await connect(pile);
    fw.realtime(1, t, { state: 3, energy: 100 });
    await rig.states.wait((s) => s.tradeNo === t && s.state === 'charging');
    await rig.alarms.wait((a) => a.tradeNo === t && a.code === 'realtimeSilent' && a.active);
    await sleep(600); // more sweeps: still one raise
    fw.realtime(1, t, { state: 3, energy: 200 });
    await rig.alarms.wait((a) => a.tradeNo === t && a.code === 'realtimeSilent' && !a.active);
    assert.deepEqual(codes(t), ['realtimeSilent:up', 'realtimeSilent:down']);
  });

  it('the pile drops TCP mid-charge and comes back on a new connection: offlineWhileCharging up then down, the same order continues', async () => {
    await rig.start({}, { offlineWhileChargingMs: 0, realtimeSilentMs: 20_000 });
    const pile = pileNo();
    const t = tradeOf(pile, 1, 4);
    const fw = await connect(pile);
    fw.realtime(1, t, { state: 3, energy: 100 });
    await rig.states.wait((s) => s.tradeNo === t && s.state === 'charging');
    fw.pile.close();
    await rig.alarms.wait((a) => a.tradeNo === t && a.code === 'offlineWhileCharging' && a.active);
    const fw2 = await connect(pile);
    await rig.alarms.wait((a) => a.tradeNo === t && a.code === 'offlineWhileCharging' && !a.active);
    fw2.realtime(1, t, { state: 3, energy: 900 });
    for (let i = 0; i < 100 && rig.tracker.order(t)?.realtime?.energy !== 900; i++) await sleep(50);
    assert.equal(rig.tracker.order(t)?.state, 'charging', 'the order from before the drop goes on');
    assert.equal(rig.tracker.order(t)?.realtime?.energy, 900);
    fw2.record(1, t, { start: [2026, 12, 5, 8, 0, 0], end: [2026, 12, 5, 8, 10, 0], meterStart: 1_000_000, meterEnd: 1_000_950, energy: 950, startType: 1 });
    const closed = await rig.states.wait((s) => s.tradeNo === t && s.state === 'closed');
    assert.equal(closed.closeReason, 'confirmed');
    assert.equal(rig.states.items.filter((s) => s.tradeNo === t && s.state === 'charging').length, 1, 'not a second order');
    assert.deepEqual(codes(t), ['offlineWhileCharging:up', 'offlineWhileCharging:down']);
  });

  it('a pile that logs in again on a new connection while its old one is still open (takeover) is online: no offlineWhileCharging, realtimeSilent still works', async () => {
    await rig.start({}, { offlineWhileChargingMs: 300, realtimeSilentMs: 1500 });
    const pile = pileNo();
    const t = tradeOf(pile, 1, 5);
    const fw = await connect(pile);
    fw.realtime(1, t, { state: 3, energy: 100 });
    await rig.states.wait((s) => s.tradeNo === t && s.state === 'charging');
    const fw2 = await connect(pile); // the old socket is never closed by the pile
    fw2.realtime(1, t, { state: 3, energy: 200 });
    await rig.alarms.wait((a) => a.tradeNo === t && a.code === 'realtimeSilent' && a.active);
    assert.deepEqual(codes(t), ['realtimeSilent:up']);
  });

  it('meter end below start and energy above rated power × duration → one meterAnomaly each order (latched; ack clears; a second ack is YKC_INPUT); the power threshold is configurable', async () => {
    await rig.start({}, { ratedPowerKw: 60 });
    const pile = pileNo();
    const fw = await connect(pile);
    const a = tradeOf(pile, 1, 6);
    const b = tradeOf(pile, 2, 7);
    fw.record(1, a, { start: [2026, 12, 5, 7, 0, 0], end: [2026, 12, 5, 7, 30, 0], meterStart: 2_000_000, meterEnd: 1_900_000, energy: 100_000 });
    // 60 kW × 10 min = 10 kWh (+1 min slack = 11 kWh); the record says 12 kWh.
    fw.record(2, b, { start: [2026, 12, 5, 7, 0, 0], end: [2026, 12, 5, 7, 10, 0], meterStart: 0, meterEnd: 120_000, energy: 120_000 });
    const ua = await rig.alarms.wait((x) => x.tradeNo === a && x.code === 'meterAnomaly' && x.active);
    const ub = await rig.alarms.wait((x) => x.tradeNo === b && x.code === 'meterAnomaly' && x.active);
    assert.match(ua.text.en, /below meter start/);
    assert.match(ua.text.zh, /小于开始读数/);
    assert.match(ub.text.en, /more than 60 kW/);
    assert.match(ua.since, ISO);
    await sleep(300);
    assert.deepEqual(codes(a), ['meterAnomaly:up']);
    rig.tracker.acknowledge('meterAnomaly', a);
    assert.deepEqual(codes(a), ['meterAnomaly:up', 'meterAnomaly:down']);
    assert.throws(() => rig.tracker.acknowledge('meterAnomaly', a), (e: { code?: string }) => e.code === 'YKC_INPUT');
    // Same energy with a 100 kW gun: fine.
    const c = tradeOf(pile, 2, 8);
    rig.tracker.options.ratedPowerKw = 100;
    fw.record(2, c, { start: [2026, 12, 5, 9, 0, 0], end: [2026, 12, 5, 9, 10, 0], meterStart: 0, meterEnd: 120_000, energy: 120_000 });
    await rig.states.wait((s) => s.tradeNo === c && s.state === 'closed');
    assert.deepEqual(codes(c), []);
  });

  it('a trade number reused for a new charge (0x13 charging after its record was confirmed) → tradeReused once, critical; the new order still followed', async () => {
    await rig.start();
    const pile = pileNo();
    const t = tradeOf(pile, 1, 9);
    const fw = await connect(pile);
    fw.record(1, t, { start: [2026, 12, 5, 5, 0, 0], end: [2026, 12, 5, 5, 20, 0], meterStart: 0, meterEnd: 10_000, energy: 10_000 });
    await rig.states.wait((s) => s.tradeNo === t && s.state === 'closed');
    fw.realtime(1, t, { state: 3, energy: 50 });
    const up = await rig.alarms.wait((x) => x.tradeNo === t && x.code === 'tradeReused' && x.active);
    assert.equal(up.severity, 'critical');
    fw.realtime(1, ZERO_TRADE, { state: 2 });
    fw.record(1, t, { start: [2026, 12, 5, 9, 0, 0], end: [2026, 12, 5, 9, 20, 0], meterStart: 10_000, meterEnd: 20_000, energy: 10_000 });
    await rig.states.wait((s) => s.tradeNo === t && s.state === 'closed' && s.reused === true);
    assert.deepEqual(codes(t), ['tradeReused:up']);
  });

  it('all-zero trade numbers (offline sessions on real firmware): two records on one gun are two orders, neither merged nor tradeReused', async () => {
    await rig.start();
    const pile = pileNo();
    const fw = await connect(pile);
    fw.record(1, ZERO_TRADE, { start: [2026, 12, 4, 20, 0, 0], end: [2026, 12, 4, 20, 40, 0], meterStart: 0, meterEnd: 100_000, energy: 100_000, startType: 4 });
    await fw.expect(0x40);
    fw.record(1, ZERO_TRADE, { start: [2026, 12, 4, 22, 0, 0], end: [2026, 12, 4, 22, 30, 0], meterStart: 100_000, meterEnd: 180_000, energy: 80_000, startType: 4 });
    await fw.expect(0x40);
    await sleep(300);
    assert.equal(rig.alarms.items.filter((a) => a.code === 'tradeReused').length, 0, 'no tradeReused');
    const closed = rig.states.items.filter((s) => s.pileNo === pile && s.state === 'closed');
    assert.equal(closed.length, 2, `two offline orders followed: ${JSON.stringify(rig.states.items.map((s) => [s.state, s.tradeNo]))}`);
    assert.notEqual(closed[0].record?.startTime, closed[1].record?.startTime);
    assert.deepEqual(closed.map((c) => c.tradeNo), [`${pile}01261204200000FFFF`, `${pile}01261204220000FFFF`], 'keyed by pile, gun and start time');
    assert.deepEqual(closed.map((c) => [c.origin, c.closeReason, c.record?.totalEnergy]), [['offline', 'confirmed', 100_000], ['offline', 'confirmed', 80_000]]);
    // A resend of the first after it closed is a late copy, not a new order.
    fw.record(1, ZERO_TRADE, { start: [2026, 12, 4, 20, 0, 0], end: [2026, 12, 4, 20, 40, 0], meterStart: 0, meterEnd: 100_000, energy: 100_000, startType: 4 });
    await fw.expect(0x40);
    await sleep(200);
    assert.equal(rig.states.items.filter((s) => s.pileNo === pile && s.state === 'closed').length, 2);
    assert.equal(rig.alarms.items.length, 0);
  });

  it('all-zero trade numbers with the flow confirming after store: each confirmation (by record id) closes its own order; none left unconfirmed', async () => {
    await rig.start({ recordConfirm: 'after-store', recordConfirmTimeoutMs: 60_000 }, { recordUnconfirmedMs: 1500 });
    const pile = pileNo();
    const ids: string[] = [];
    rig.gw.on('record', (ev) => {
      if (ev.pileNo === pile) ids.push(ev.id);
    });
    const fw = await connect(pile);
    fw.record(2, ZERO_TRADE, { start: [2026, 12, 4, 20, 0, 0], end: [2026, 12, 4, 20, 40, 0], meterStart: 0, meterEnd: 100_000, energy: 100_000, startType: 4 });
    fw.record(2, ZERO_TRADE, { start: [2026, 12, 4, 22, 0, 0], end: [2026, 12, 4, 22, 30, 0], meterStart: 100_000, meterEnd: 180_000, energy: 80_000, startType: 4 });
    const first = `${pile}02261204200000FFFF`;
    const second = `${pile}02261204220000FFFF`;
    await rig.states.wait((s) => s.tradeNo === second && s.state === 'recorded');
    assert.equal(ids.length, 2);
    rig.gw.confirm({ tradeNo: ZERO_TRADE, pileNo: pile, id: ids[1] });
    await rig.states.wait((s) => s.tradeNo === second && s.state === 'closed');
    assert.equal(rig.tracker.order(first)?.state, 'recorded', 'the other one is still waiting');
    rig.gw.confirm({ tradeNo: ZERO_TRADE, pileNo: pile, id: ids[0] });
    await rig.states.wait((s) => s.tradeNo === first && s.state === 'closed');
    await sleep(1700);
    assert.equal(rig.alarms.items.length, 0, JSON.stringify(rig.alarms.items));
  });

  it('two guns in parallel, interleaved frames: two orders, each its own figures; ending one does not touch the other', async () => {
    await rig.start({}, { realtimeSilentMs: 20_000 });
    const pile = pileNo();
    const fw = await connect(pile);
    const t1 = tradeOf(pile, 1, 10);
    const t2 = tradeOf(pile, 2, 11);
    fw.realtime(1, t1, { state: 3, energy: 10 });
    fw.realtime(2, t2, { state: 3, energy: 20 });
    fw.realtime(1, t1, { state: 3, energy: 30 });
    fw.realtime(2, t2, { state: 3, energy: 40 });
    await rig.states.wait((s) => s.tradeNo === t2 && s.state === 'charging');
    fw.realtime(1, t1, { state: 2, energy: 35 });
    fw.record(1, t1, { start: [2026, 12, 5, 8, 0, 0], end: [2026, 12, 5, 8, 1, 0], meterStart: 0, meterEnd: 35, energy: 35, startType: 1 });
    await rig.states.wait((s) => s.tradeNo === t1 && s.state === 'closed');
    await sleep(200);
    assert.equal(rig.tracker.order(t2)?.state, 'charging');
    assert.equal(rig.tracker.order(t2)?.realtime?.energy, 40);
    assert.deepEqual([...codes(t1), ...codes(t2)], []);
  });

  it('an order first seen in a charging 0x13 is announced with that frame\'s figures (not realtime: null)', async () => {
    await rig.start({}, { realtimeSilentMs: 20_000 });
    const pile = pileNo();
    const t = tradeOf(pile, 1, 13);
    const fw = await connect(pile);
    fw.realtime(1, t, { state: 3, energy: 4321, amount: 5678 });
    const charging = await rig.states.wait((s) => s.tradeNo === t && s.state === 'charging');
    assert.deepEqual(charging.realtime && [charging.realtime.energy, charging.realtime.amount], [4321, 5678]);
    assert.equal(charging.realtime?.at, charging.chargingAt);
  });

  it('a pile whose clock runs 10 min slow: record energy a little above the last 0x13 (what the gun delivered since) is no meterAnomaly; a real jump still is', async () => {
    await rig.start({}, { realtimeSilentMs: 20_000, meterToleranceUnits: 1000, ratedPowerKw: 360 });
    const pile = pileNo();
    const fw = await connect(pile);
    const wall = (ms: number): [number, number, number, number, number, number] => {
      const d = new Date(ms + 8 * 3600_000); // the pile's China wall time
      return [d.getUTCFullYear(), d.getUTCMonth() + 1, d.getUTCDate(), d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds()];
    };
    const a = tradeOf(pile, 1, 14);
    const b = tradeOf(pile, 2, 15);
    fw.realtime(1, a, { state: 3, energy: 10_000 });
    fw.realtime(2, b, { state: 3, energy: 10_000 });
    await rig.states.wait((s) => s.tradeNo === b && s.state === 'charging');
    await sleep(1500); // 1.5 s at up to 360 kW: up to 0.15 kWh more
    const end = Date.now() - 10 * 60_000;
    // 0.14 kWh more than the last 0x13 said (tolerance 0.1 kWh): what the gun could deliver in 1.5 s.
    fw.record(1, a, { start: wall(end - 5 * 60_000), end: wall(end), meterStart: 0, meterEnd: 11_400, energy: 11_400, startType: 1 });
    // 5 kWh more: a jump.
    fw.record(2, b, { start: wall(end - 5 * 60_000), end: wall(end), meterStart: 0, meterEnd: 60_000, energy: 60_000, startType: 1 });
    await rig.states.wait((s) => s.tradeNo === a && s.state === 'closed');
    await rig.alarms.wait((x) => x.tradeNo === b && x.code === 'meterAnomaly' && x.active);
    assert.deepEqual(codes(a), []);
  });

  it('an order closed by hand while the pile still charges: its next 0x13 is the same charge going on, not tradeReused', async () => {
    await rig.start({}, { realtimeSilentMs: 20_000 });
    const pile = pileNo();
    const t = tradeOf(pile, 1, 16);
    const fw = await connect(pile);
    fw.realtime(1, t, { state: 3, energy: 100 });
    await rig.states.wait((s) => s.tradeNo === t && s.state === 'charging');
    rig.tracker.close(t, 'looks stuck');
    fw.realtime(1, t, { state: 3, energy: 200 });
    await rig.states.wait((s) => s.tradeNo === t && s.state === 'charging' && s.realtime?.energy === 200);
    fw.realtime(1, ZERO_TRADE, { state: 2 });
    fw.record(1, t, { start: [2026, 12, 5, 8, 0, 0], end: [2026, 12, 5, 8, 3, 0], meterStart: 0, meterEnd: 250, energy: 250, startType: 1 });
    await rig.states.wait((s) => s.tradeNo === t && s.state === 'closed' && s.closeReason === 'confirmed');
    assert.deepEqual(codes(t), []);
  });

  it('snapshot and alarm details use ISO 8601 with the offset', async () => {
    await rig.start({}, { offlineWhileChargingMs: 0, realtimeSilentMs: 20_000 });
    const pile = pileNo();
    const t = tradeOf(pile, 1, 12);
    const fw = await connect(pile);
    fw.realtime(1, t, { state: 3, energy: 100 });
    await rig.states.wait((s) => s.tradeNo === t && s.state === 'charging');
    fw.pile.close();
    const up = await rig.alarms.wait((a) => a.tradeNo === t && a.code === 'offlineWhileCharging' && a.active);
    assert.match(String(up.details.offlineSince), ISO);
    const snap = rig.tracker.snapshot();
    assert.match(snap.at, ISO);
    assert.equal(snap.orders.length, 1);
  });
});
