/**
 * Outside review (issue 14): two piles whose firmware use the same trade number. The gateway keys
 * records by pile, trade number and content; the order watchdog must key orders by pile + trade
 * number too — one pile's record, realtime data or alarm never lands on the other pile's order.
 * Raw-socket piles written from docs/protocol.md (test/support/ykc-firmware.ts) against the real gateway.
 */
import assert from 'assert/strict';
import { Rig } from '../orders/harness';
import { Firmware, firmware } from '../support/ykc-firmware';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('adversarial: two piles, one trade number (orders keyed by pile + trade number)', function () {
  this.timeout(30_000);
  let rig: Rig;
  const fws: Firmware[] = [];
  const base = 45090000000000 + (process.pid % 1000) * 100;
  const A = String(base + 1);
  const B = String(base + 2);
  const T = `${A}012612050800000001`;
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
  const of = (pile: string) => rig.states.items.filter((s) => s.pileNo === pile && s.tradeNo === T);

  it("B's record with A's trade number is B's own order; A's charge goes on untouched; no alarm", async () => {
    await rig.start({}, { realtimeSilentMs: 20_000 });
    const a = await connect(A);
    const b = await connect(B);
    a.realtime(1, T, { state: 3, energy: 100 });
    await rig.states.wait((s) => s.pileNo === A && s.tradeNo === T && s.state === 'charging');
    b.record(1, T, { start: [2026, 12, 5, 7, 0, 0], end: [2026, 12, 5, 7, 30, 0], meterStart: 0, meterEnd: 99_999, energy: 99_999, startType: 4 });
    await b.expect(0x40);
    const closedB = await rig.states.wait((s) => s.pileNo === B && s.tradeNo === T && s.state === 'closed');
    assert.equal(closedB.closeReason, 'confirmed');
    assert.equal(closedB.origin, 'offline');
    assert.equal(closedB.record?.totalEnergy, 99_999);
    a.realtime(1, T, { state: 3, energy: 200 });
    // A 0x13 that changes no state is not announced: poll the order.
    for (let i = 0; i < 100 && rig.tracker.order({ pileNo: A, tradeNo: T })?.realtime?.energy !== 200; i++) await sleep(50);
    await sleep(200);
    assert.deepEqual(of(A).map((s) => s.state), ['charging'], "A's order: one, still charging (no record attached, not reopened)");
    assert.ok(of(A).every((s) => s.record === null && !s.reused));
    assert.deepEqual(rig.alarms.items.map((x) => `${x.pileNo}:${x.code}`), [], 'no meterAnomaly, no tradeReused');
    assert.deepEqual(rig.tracker.order({ pileNo: A, tradeNo: T })?.realtime?.energy, 200);
    assert.equal(rig.tracker.order({ pileNo: B, tradeNo: T }), null, "B's order is closed");
    assert.equal(rig.tracker.openCount(), 1);
  });

  it("a charging 0x13 from B with A's trade number opens B's order and leaves A's open; close/ack by tradeNo alone is refused as ambiguous naming both piles", async () => {
    await rig.start({}, { realtimeSilentMs: 20_000 });
    const a = await connect(A);
    const b = await connect(B);
    a.realtime(1, T, { state: 3, energy: 100 });
    await rig.states.wait((s) => s.pileNo === A && s.tradeNo === T && s.state === 'charging');
    b.realtime(2, T, { state: 3, energy: 50 });
    await rig.states.wait((s) => s.pileNo === B && s.tradeNo === T && s.state === 'charging');
    await sleep(200);
    assert.deepEqual(of(A).map((s) => s.state), ['charging'], "A's order is not closed as tradeReused");
    assert.deepEqual(rig.alarms.items, []);
    assert.equal(rig.tracker.openCount(), 2);
    const snap = rig.tracker.snapshot();
    assert.deepEqual(snap.orders.map((o) => `${o.pileNo}#${o.gunNo}`).sort(), [`${A}#1`, `${B}#2`]);
    assert.throws(() => rig.tracker.close(T, 'x'), (e: Error & { code?: string }) => e.code === 'YKC_INPUT' && e.message.includes(A) && e.message.includes(B));
    const closed = rig.tracker.close({ pileNo: B, tradeNo: T }, 'wrong pile');
    assert.equal(closed.pileNo, B);
    assert.equal(closed.closeReason, 'manual: wrong pile');
    assert.equal(rig.tracker.order({ pileNo: A, tradeNo: T })?.state, 'charging');
    // Unambiguous again: the trade number alone names A's order.
    assert.equal(rig.tracker.order(T)?.pileNo, A);
    assert.equal(rig.tracker.close(T, 'by trade number').pileNo, A);
    assert.equal(rig.tracker.openCount(), 0);
  });

  it('latched alarms of two piles with one trade number are two alarms; ack names the pile', async () => {
    await rig.start({}, { realtimeSilentMs: 20_000 });
    const a = await connect(A);
    const b = await connect(B);
    // meter end below meter start on both: a meterAnomaly each.
    for (const f of [a, b]) f.record(1, T, { start: [2026, 12, 5, 7, 0, 0], end: [2026, 12, 5, 7, 30, 0], meterStart: 5000, meterEnd: 4000, energy: 100, startType: 4 });
    await rig.alarms.wait((x) => x.pileNo === A && x.code === 'meterAnomaly' && x.active);
    await rig.alarms.wait((x) => x.pileNo === B && x.code === 'meterAnomaly' && x.active);
    assert.throws(() => rig.tracker.acknowledge('meterAnomaly', T), (e: Error & { code?: string }) => e.code === 'YKC_INPUT' && e.message.includes(A) && e.message.includes(B));
    const acked = rig.tracker.acknowledge('meterAnomaly', { pileNo: B, tradeNo: T });
    assert.equal(acked.pileNo, B);
    assert.equal(acked.active, false);
    assert.equal(rig.tracker.snapshot().alarms.map((x) => x.pileNo).join(), A);
    assert.equal(rig.tracker.acknowledge('meterAnomaly', T).pileNo, A, 'unambiguous now');
  });
});
