/**
 * The order journal on real files: open orders and active alarms survive a restart (and the
 * order goes on when its pile talks again), the file stays bounded (compaction), a corrupt file is
 * set aside with YKC_STORE and its readable lines kept, and the named limits hold.
 */
import assert from 'assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { OrderJournal, OrderPayload, OrderTracker } from '../../src/orders';
import { YkcError } from '../../src/protocol';
import { Rig, trade } from './harness';
import { frameEv, realtime, record, recordEv } from './synthetic';

const PILE = '32010300000099';
const T = (n: number) => `${PILE}01${String(n).padStart(16, '0')}`;

describe('orders: journal, restart, limits', function () {
  this.timeout(30_000);
  let dir: string;
  let file: string;
  const trackers: OrderTracker[] = [];
  const make = (opts: ConstructorParameters<typeof OrderTracker>[0] = {}, j = new OrderJournal(file, 0)) => {
    const t = new OrderTracker({ sweepMs: 60_000, ...opts }, j);
    trackers.push(t);
    return t;
  };

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ykc-orders-'));
    file = path.join(dir, 'ykc', 'orders-x.jsonl');
  });
  afterEach(() => {
    for (const t of trackers.splice(0)) t.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('an open order and its active alarm survive a restart; the order goes on and closes after it', () => {
    let now = 1_800_000_000_000;
    const a = make({ now: () => now, offlineWhileChargingMs: 1000 });
    a.onOnline(PILE);
    a.onSent(frameEv(PILE, 0x34, { tradeNo: T(1), gunNo: 1 }));
    a.onFrame(frameEv(PILE, 0x33, { tradeNo: T(1), gunNo: 1, result: 1 }));
    a.onFrame(realtime(PILE, 1, T(1), true, 12.5, 15));
    a.audit(T(1), false, { note: 'x' });
    a.stop();

    now += 60_000;
    const b = make({ now: () => now, offlineWhileChargingMs: 1000 });
    const o = b.order(T(1))!;
    assert.equal(o.state, 'charging');
    assert.equal(o.origin, 'remote');
    assert.deepEqual(o.realtime && [o.realtime.energy, o.realtime.amount], [125_000, 150_000]);
    assert.deepEqual(b.snapshot().alarms.map((x) => x.code), ['auditFailed']);
    // The pile is not back yet: after the threshold, the open charge is reported.
    const alarms: string[] = [];
    b.on('alarm', (x) => alarms.push(`${x.code}:${x.active}`));
    now += 2000;
    b.sweep();
    assert.deepEqual(alarms, ['offlineWhileCharging:true']);
    // The pile is back and still charging the same order.
    b.onOnline(PILE);
    b.onFrame(realtime(PILE, 1, T(1), true, 30, 36));
    assert.deepEqual(alarms, ['offlineWhileCharging:true', 'offlineWhileCharging:false']);
    const states: OrderPayload[] = [];
    b.on('state', (s) => states.push(s));
    b.onFrame(realtime(PILE, 1, T(1), false));
    b.onRecord(recordEv(PILE, record(PILE, 1, T(1), 30.2)), false);
    assert.deepEqual(states.map((s) => s.state), ['ended', 'recorded', 'confirmed', 'closed']);
    assert.equal(states[3].record?.totalEnergy, 302_000);
    b.stop();

    const c = make();
    assert.equal(c.openCount(), 0);
    assert.deepEqual(c.snapshot().counts.history, 1);
    // A late copy of the record of the closed order is recognised, not a new order.
    c.onRecord(recordEv(PILE, record(PILE, 1, T(1), 30.2)), false);
    assert.equal(c.openCount(), 0);
    assert.equal(c.alarmCount(), 1, 'only the audit alarm, still latched');
  });

  it('a journal written when orders were keyed by trade number alone still loads (keys derived from pileNo), and two piles with one trade number stay two orders', () => {
    let now = 1_800_000_000_000;
    const P2 = '32010300000098';
    // Lines as the tracker wrote them before orders were keyed by pile: x = tradeNo, c = "code|tradeNo".
    const order = (t: string, state: string) => ({
      tradeNo: t, pileNo: PILE, gunNo: 1, state, origin: 'remote', at: [now, now, now, 0, 0, 0, 0, 0], updatedAt: now,
      rtAt: now, rtEnergy: 1000, rtAmount: 1200, stopReason: null, record: null, resends: 0, recordResult: null, closeReason: null, reused: false,
    });
    const alarm = (code: string, t: string) => ({ code, pileNo: PILE, gunNo: 1, tradeNo: t, since: now, acknowledged: false, details: {} });
    const lines = [
      { o: order(T(1), 'charging') },
      { o: order(T(2), 'charging') },
      { x: T(2), h: { tradeNo: T(2), pileNo: PILE, gunNo: 1, started: true, recordStart: '2026-12-05 08:00:00', closedAt: now, closeReason: 'confirmed' } },
      { a: alarm('auditFailed', T(1)) },
      { a: alarm('meterAnomaly', T(1)) },
      { c: `meterAnomaly|${T(1)}` },
    ];
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, lines.map((l) => JSON.stringify(l)).join('\n') + '\n');
    const problems: YkcError[] = [];
    const a = make({ now: () => now });
    a.on('problem', (e) => problems.push(e));
    assert.equal(a.openCount(), 1);
    assert.equal(a.order({ pileNo: PILE, tradeNo: T(1) })?.state, 'charging');
    assert.equal(a.order(T(2)), null, 'closed by its old x line');
    assert.deepEqual(a.snapshot().alarms.map((x) => `${x.pileNo}:${x.code}`), [`${PILE}:auditFailed`], 'the old c line cleared meterAnomaly');
    // The loaded order goes on; another pile charging with the same trade number is an order of its own.
    a.onOnline(PILE);
    a.onOnline(P2);
    a.onFrame(realtime(PILE, 1, T(1), true, 3, 4));
    a.onFrame(realtime(P2, 1, T(1), true, 1, 1));
    assert.equal(a.openCount(), 2);
    assert.equal(a.alarmCount(), 1, 'no tradeReused');
    a.audit({ pileNo: PILE, tradeNo: T(1) }, true);
    assert.equal(a.alarmCount(), 0);
    a.stop();
    now += 1000;
    const b = make({ now: () => now });
    assert.deepEqual(b.snapshot().orders.map((o) => `${o.pileNo}:${o.tradeNo}:${o.state}`).sort(), [`${P2}:${T(1)}:charging`, `${PILE}:${T(1)}:charging`]);
    assert.equal(b.snapshot().counts.history, 1);
    assert.deepEqual(problems, []);
  });

  it('compaction keeps the file bounded by the live state and the history size', () => {
    const j = new OrderJournal(file, 0, 2, 50);
    const a = make({ historySize: 20 }, j);
    a.onOnline(PILE);
    for (let i = 1; i <= 500; i++) {
      a.onSent(frameEv(PILE, 0x34, { tradeNo: T(i), gunNo: 1 }));
      a.onFrame(frameEv(PILE, 0x33, { tradeNo: T(i), gunNo: 1, result: 1 }));
      a.onFrame(realtime(PILE, 1, T(i), true, 1, 1));
      if (i < 500) a.onRecord(recordEv(PILE, record(PILE, 1, T(i), 1.0001, `2026-12-05 08:${String(i % 60).padStart(2, '0')}:00`)), false);
    }
    a.stop();
    const lines = fs.readFileSync(file, 'utf8').trim().split('\n').length;
    assert.ok(lines <= 2 * 21 + 50 + 10, `${lines} lines for 1 open order and 20 in the history`);
    const b = make({ historySize: 20 });
    assert.equal(b.openCount(), 1);
    assert.equal(b.order(T(500))?.state, 'charging');
    assert.equal(b.snapshot().counts.history, 20);
  });

  it('a corrupt journal is set aside (YKC_STORE), its readable lines kept; a torn last line is not corruption', async () => {
    const good = (n: number) => JSON.stringify({ o: { tradeNo: T(n), pileNo: PILE, gunNo: 1, state: 'charging', origin: 'remote', at: [1, 1, 1, 0, 0, 0, 0, 0], updatedAt: 1, rtAt: 0, rtEnergy: 0, rtAmount: 0, stopReason: null, record: null, resends: 0, recordResult: null, closeReason: null, reused: false } });
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, `${good(1)}\n{"o": {"tradeNo": 1\n${good(2)}\n${good(3).slice(0, 40)}`);
    const t = make();
    const problem = await new Promise<YkcError>((r) => t.once('problem', r));
    assert.equal(problem.code, 'YKC_STORE');
    assert.equal(problem.details.badLines, 1);
    assert.deepEqual(t.snapshot().orders.map((o) => o.tradeNo), [T(1), T(2)]);
    const aside = fs.readdirSync(path.dirname(file)).filter((f) => f.includes('.corrupt-'));
    assert.equal(aside.length, 1);
    assert.match(fs.readFileSync(path.join(path.dirname(file), aside[0]), 'utf8'), /"tradeNo": 1/);
    // The journal was rewritten from what could be read.
    t.stop();
    assert.equal(make().openCount(), 2);

    // Only a torn last line (a crash mid-write): nothing set aside, no problem.
    fs.rmSync(dir, { recursive: true, force: true });
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, `${good(4)}\n${good(5).slice(0, 30)}`);
    const u = make();
    let complained = false;
    u.on('problem', () => (complained = true));
    await new Promise((r) => setImmediate(r));
    assert.equal(complained, false);
    assert.equal(u.openCount(), 1);
  });

  it('an unwritable journal is reported (YKC_STORE) and the tracker goes on in memory', () => {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.mkdirSync(file); // a directory where the file should be: every append fails
    const t = make();
    const problems: YkcError[] = [];
    t.on('problem', (e) => problems.push(e));
    t.onSent(frameEv(PILE, 0x34, { tradeNo: T(1), gunNo: 1 }));
    assert.equal(problems[0]?.code, 'YKC_STORE');
    assert.equal(t.order(T(1))?.state, 'requested');
    // The disk is fine again: the next write carries what failed, on a line of its own.
    fs.rmdirSync(file);
    fs.writeFileSync(file, '{"o": {"tradeNo": "torn'); // what a failed append may have left
    t.onSent(frameEv(PILE, 0x34, { tradeNo: T(2), gunNo: 2 }));
    t.stop();
    const text = fs.readFileSync(file, 'utf8');
    assert.match(text, /^\{"o": \{"tradeNo": "torn\n\{"o":/, 'the batch starts on a new line');
    const u = make();
    assert.deepEqual(u.snapshot().orders.map((o) => o.tradeNo).sort(), [T(1), T(2)]);
  });

  it('maxOpenOrders: beyond it the oldest open order is closed with reason "limit" (YKC_LIMIT); requests nobody answers expire', () => {
    let now = 1_800_000_000_000;
    const t = new OrderTracker({ maxOpenOrders: 3, requestExpiryMs: 5000, sweepMs: 60_000, now: () => now });
    trackers.push(t);
    const problems: YkcError[] = [];
    t.on('problem', (e) => problems.push(e));
    const closed: OrderPayload[] = [];
    t.on('state', (s) => s.state === 'closed' && closed.push(s));
    for (let i = 1; i <= 5; i++) t.onSent(frameEv(PILE, 0x34, { tradeNo: T(i), gunNo: i }));
    assert.equal(t.openCount(), 3);
    assert.deepEqual(closed.map((c) => [c.tradeNo, c.closeReason]), [[T(1), 'limit'], [T(2), 'limit']]);
    assert.equal(problems[0].code, 'YKC_LIMIT');
    now += 6000;
    t.sweep();
    assert.equal(t.openCount(), 0);
    assert.deepEqual(closed.slice(2).map((c) => c.closeReason), ['noAnswer', 'noAnswer', 'noAnswer']);
  });

  it('card and VIN starts (0x31 then an accepted 0x32) are "card" / "vin" orders; a refused 0x32 makes none; a new order on a gun ends the one before', () => {
    const t = make();
    t.onFrame(frameEv(PILE, 0x31, { gunNo: 1, startMethod: 1 }));
    t.onSent(frameEv(PILE, 0x32, { tradeNo: T(1), gunNo: 1, result: 1 }));
    t.onFrame(frameEv(PILE, 0x31, { gunNo: 2, startMethod: 3 }));
    t.onSent(frameEv(PILE, 0x32, { tradeNo: T(2), gunNo: 2, result: 1 }));
    t.onFrame(frameEv(PILE, 0x31, { gunNo: 3, startMethod: 1 }));
    t.onSent(frameEv(PILE, 0x32, { tradeNo: T(3), gunNo: 3, result: 0 }));
    assert.deepEqual([t.order(T(1))?.origin, t.order(T(1))?.state, t.order(T(2))?.origin, t.order(T(3))], ['card', 'started', 'vin', null]);
    t.onFrame(realtime(PILE, 1, T(1), true, 1, 1));
    // The pile's own next session on gun 1 (first seen charging): the card order is over, its record will follow.
    const states: OrderPayload[] = [];
    t.on('state', (s) => states.push(s));
    t.onFrame(realtime(PILE, 1, T(4), true, 0.5, 0.5));
    assert.deepEqual(states.map((s) => [s.tradeNo, s.state]), [[T(1), 'ended'], [T(4), 'charging']]);
    assert.equal(states[1].origin, 'offline');
    assert.equal(states[1].requestedAt, null);
    // A request for a busy gun (the pile will refuse it) does not end the order charging there.
    t.onSent(frameEv(PILE, 0x34, { tradeNo: T(5), gunNo: 1 }));
    assert.equal(t.order(T(4))?.state, 'charging');
    t.onFrame(frameEv(PILE, 0x33, { tradeNo: T(5), gunNo: 1, result: 0, failReason: 2, failReasonName: 'gun busy' }));
    t.onFrame(realtime(PILE, 1, T(4), false));
    assert.equal(t.order(T(4))?.state, 'ended', 'the 0x13 of the gun still ends the order it was charging');
  });

  it('a refused start (0x33 failure) closes the request; "not plugged" waits for the late plug', () => {
    const t = make();
    const states: OrderPayload[] = [];
    t.on('state', (s) => states.push(s));
    t.onSent(frameEv(PILE, 0x34, { tradeNo: T(1), gunNo: 1 }));
    t.onFrame(frameEv(PILE, 0x33, { tradeNo: T(1), gunNo: 1, result: 0, failReason: 2, failReasonName: 'gun busy' }));
    assert.equal(states.at(-1)?.closeReason, 'startFailed: gun busy');
    t.onSent(frameEv(PILE, 0x34, { tradeNo: T(2), gunNo: 2 }));
    t.onFrame(frameEv(PILE, 0x33, { tradeNo: T(2), gunNo: 2, result: 0, failReason: 5 }));
    assert.equal(t.order(T(2))?.state, 'requested');
    t.onFrame(frameEv(PILE, 0x33, { tradeNo: T(2), gunNo: 2, result: 1, failReason: 0 }));
    assert.equal(t.order(T(2))?.state, 'started');
    // A refused trade number may be used again without a tradeReused alarm.
    t.onSent(frameEv(PILE, 0x34, { tradeNo: T(1), gunNo: 1 }));
    assert.equal(t.alarmCount(), 0);
  });

  it('restart through a real gateway: the pile keeps charging while no tracker runs; the next one continues the order', async () => {
    const rig = new Rig();
    try {
      await rig.start({}, {}, new OrderJournal(file, 0));
      const p = await rig.pile(31);
      const t = await rig.remoteStart(p, 1, trade(31));
      await rig.states.wait((s) => s.tradeNo === t && s.state === 'charging');
      rig.untrack();
      await new Promise((r) => setTimeout(r, 300));
      rig.track({}, new OrderJournal(file, 0));
      assert.equal(rig.tracker.order(t)?.state, 'charging');
      await rig.remoteStop(p, 1);
      const closed = await rig.states.wait((s) => s.tradeNo === t && s.state === 'closed');
      assert.equal(closed.origin, 'remote');
      assert.ok(closed.requestedAt && closed.startedAt, 'times from before the restart kept');
      assert.equal(rig.alarms.items.length, 0);
    } finally {
      await rig.close();
    }
  });
});
