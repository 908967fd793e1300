/**
 * Record identity over real TCP with independent raw-socket piles (hand-built 0x3B bytes, own CRC):
 * a record is (the session's pile, trade number, content). Another pile's record never stands in for
 * a pile's own, a reused or all-zero trade number never hides a second session, an exact resend is
 * absorbed, and the bounds on held records refuse without losing anything.
 */
import should from 'should';
import type { ProblemEvent, RecordEvent } from '../../src/gateway';
import { ack, BASE_TRADE, nextEvent, recordBody, recordFrame, RecordRig, ZERO_TRADE } from '../support/record-piles';

const A = '32010200000001';
const B = '32010200000002';
const C = '32010200000003';

describe('gateway: record identity (pile, trade number, content)', function () {
  this.timeout(15_000);
  const rig = new RecordRig();
  afterEach(() => rig.stop());

  it("pile B sends a record with pile A's trade number and pile number: refused and reported; A's own record then reaches the flow", async () => {
    const server = await rig.start();
    const records: RecordEvent[] = [];
    server.on('record', (e) => records.push(e));
    const a = await rig.pile(A);
    const b = await rig.pile(B);

    const foreign = nextEvent<RecordEvent>(server, 'recordForeign');
    const problem = nextEvent<ProblemEvent>(server, 'problem', (p) => p.code === 'YKC_FIELD');
    b.write(recordFrame(recordBody({ trade: BASE_TRADE, pile: A }), '1100'));
    should(ack(await b.next())).eql({ tradeNo: BASE_TRADE, result: 1, seq: '1100' });
    const f = await foreign;
    should([f.pileNo, f.foreign, f.held]).eql([B, true, false]);
    const p = await problem;
    should(p.pileNo).equal(B);
    p.message.should.match(new RegExp(`from pile ${B} names pile ${A}`));
    should(p.details).containEql({ claimed: A, tradeNo: BASE_TRADE });
    should(records).be.empty();
    should(server.counters.recordsForeign).equal(1);

    // A's real record with that trade number: new, held, confirmed, acknowledged to A.
    a.write(recordFrame(recordBody({ trade: BASE_TRADE, pile: A }), '2100'));
    const rec = await nextEvent<RecordEvent>(server, 'record');
    should([rec.pileNo, rec.arrival, rec.held]).eql([A, 'new', true]);
    should(server.confirmRecord(BASE_TRADE, true, A)).be.true();
    should(ack(await a.next())).eql({ tradeNo: BASE_TRADE, result: 0, seq: '2100' });
    should(await rig.settle(b, B, '1200')).be.empty();
  });

  it("pile B reuses pile A's trade number for its own record: both records reach the flow, each is confirmed to its pile", async () => {
    const server = await rig.start();
    const a = await rig.pile(A);
    const b = await rig.pile(B);
    b.write(recordFrame(recordBody({ trade: BASE_TRADE, pile: B }), '1100'));
    const rb = await nextEvent<RecordEvent>(server, 'record');
    should([rb.pileNo, rb.arrival]).eql([B, 'new']);
    server.confirm({ tradeNo: BASE_TRADE, pileNo: B, id: rb.id });
    should(ack(await b.next())).containEql({ result: 0, seq: '1100' });

    a.write(recordFrame(recordBody({ trade: BASE_TRADE, pile: A }), '2100'));
    const ra = await nextEvent<RecordEvent>(server, 'record');
    should([ra.pileNo, ra.arrival, ra.held]).eql([A, 'new', true]);
    should(await rig.settle(a, A, '2200')).be.empty(); // held: no 0x40 yet
    const out = server.confirm({ tradeNo: BASE_TRADE, pileNo: A });
    should(out).containEql({ pileNo: A, result: 0, sent: true });
    should(ack(await a.next())).eql({ tradeNo: BASE_TRADE, result: 0, seq: '2100' });
  });

  it('two sessions of one pile with an all-zero trade number: both reach the flow and each copy is answered', async () => {
    const server = await rig.start();
    const a = await rig.pile(A);
    const records: RecordEvent[] = [];
    server.on('record', (e) => records.push(e));
    a.write(recordFrame(recordBody({ trade: ZERO_TRADE, pile: A, variant: 1 }), '0100'));
    a.write(recordFrame(recordBody({ trade: ZERO_TRADE, pile: A, variant: 2 }), '0200'));
    await rig.settle(a, A, '0300');
    should(records.map((r) => [r.pileNo, r.arrival, r.frame.body.tradeNo])).eql([
      [A, 'new', ZERO_TRADE],
      [A, 'new', ZERO_TRADE],
    ]);
    should(records[0].id).not.equal(records[1].id);
    // Confirmed by content id, the second first: each 0x40 carries the sequence of its own copy.
    server.confirm({ tradeNo: ZERO_TRADE, pileNo: A, id: records[1].id });
    should(ack(await a.next())).eql({ tradeNo: ZERO_TRADE, result: 0, seq: '0200' });
    // By pile and trade number alone: the oldest held.
    should(server.confirmRecord(ZERO_TRADE, true, A)).be.true();
    should(ack(await a.next())).eql({ tradeNo: ZERO_TRADE, result: 0, seq: '0100' });
    // Both resent (0x40 lost): both absorbed and acknowledged again.
    const dups: RecordEvent[] = [];
    server.on('recordDuplicate', (e) => dups.push(e));
    a.write(recordFrame(recordBody({ trade: ZERO_TRADE, pile: A, variant: 1 }), '0400'));
    a.write(recordFrame(recordBody({ trade: ZERO_TRADE, pile: A, variant: 2 }), '0500'));
    should(ack(await a.next()).seq).equal('0400');
    should(ack(await a.next()).seq).equal('0500');
    should(dups.map((d) => d.arrival)).eql(['resend-confirmed', 'resend-confirmed']);
    should(records).have.length(2);
  });

  it('an exact resend is absorbed (while held: no 0x40; once confirmed: acknowledged again); changed content is a new record', async () => {
    const server = await rig.start();
    const a = await rig.pile(A);
    const records: RecordEvent[] = [];
    const dups: RecordEvent[] = [];
    server.on('record', (e) => records.push(e));
    server.on('recordDuplicate', (e) => dups.push(e));
    const body = recordBody({ pile: A });
    a.write(recordFrame(body, '0100'));
    a.write(recordFrame(body, '0200'));
    should(await rig.settle(a, A, '0300')).be.empty();
    should(dups.map((d) => [d.arrival, d.held])).eql([['resend-pending', true]]);
    should(server.confirmRecord(BASE_TRADE)).be.true(); // trade number alone: one pile holds it
    should(ack(await a.next())).eql({ tradeNo: BASE_TRADE, result: 0, seq: '0200' });
    a.write(recordFrame(body, '0400'));
    should(ack(await a.next())).eql({ tradeNo: BASE_TRADE, result: 0, seq: '0400' });
    should(dups.map((d) => d.arrival)).eql(['resend-pending', 'resend-confirmed']);
    should(records).have.length(1);
    // Same pile and trade number, other content: not a resend, handed to the flow.
    a.write(recordFrame(recordBody({ pile: A, variant: 7 }), '0500'));
    const again = await nextEvent<RecordEvent>(server, 'record');
    should([again.arrival, again.held]).eql(['new', true]);
    should(server.counters.recordsDuplicate).equal(2);
  });

  it('confirming by trade number alone when two piles hold it is refused as ambiguous (YKC_INPUT); with the pile it works', async () => {
    const server = await rig.start();
    const a = await rig.pile(A);
    const b = await rig.pile(B);
    a.write(recordFrame(recordBody({ pile: A }), '0100'));
    await nextEvent(server, 'record');
    b.write(recordFrame(recordBody({ pile: B }), '0100'));
    await nextEvent(server, 'record');
    should(() => server.confirmRecord(BASE_TRADE)).throw(/piles .*32010200000001.*32010200000002|piles .*32010200000002.*32010200000001/);
    try {
      server.confirmRecord(BASE_TRADE);
    } catch (e) {
      should((e as { code: string }).code).equal('YKC_INPUT');
    }
    should(server.confirmRecord(BASE_TRADE, false, B)).be.true();
    should(ack(await b.next())).containEql({ result: 1 });
    should(await rig.settle(a, A, '0200')).be.empty();
    should(server.confirmRecord(BASE_TRADE)).be.true(); // now unambiguous
    should(ack(await a.next())).containEql({ result: 0, seq: '0100' });
  });

  it('bounds: beyond maxHeldRecordsPerPile and maxHeldRecords a record is neither acknowledged nor emitted, reported once per pile', async () => {
    const server = await rig.start({ maxHeldRecordsPerPile: 3, maxHeldRecords: 5 });
    const records: RecordEvent[] = [];
    const limits: ProblemEvent[] = [];
    server.on('record', (e) => records.push(e));
    server.on('problem', (p) => p.code === 'YKC_LIMIT' && limits.push(p));
    const a = await rig.pile(A);
    const b = await rig.pile(B);
    const c = await rig.pile(C);
    const trade = (n: number) => BASE_TRADE.slice(0, -4) + String(n).padStart(4, '0');
    for (let n = 1; n <= 5; n++) a.write(recordFrame(recordBody({ pile: A, trade: trade(n) }), `0${n}00`));
    should(await rig.settle(a, A, '0900')).be.empty(); // no 0x40 for any of them
    should(records.map((r) => r.frame.body.tradeNo)).eql([trade(1), trade(2), trade(3)]);
    should(limits).have.length(1);
    limits[0].message.should.match(/maxHeldRecordsPerPile 3/);
    should(server.counters.recordsOverLimit).equal(2);

    for (let n = 1; n <= 2; n++) b.write(recordFrame(recordBody({ pile: B, trade: trade(n) }), `0${n}00`));
    await rig.settle(b, B, '0900');
    c.write(recordFrame(recordBody({ pile: C }), '0100'));
    should(await rig.settle(c, C, '0900')).be.empty();
    should(records).have.length(5);
    should(limits).have.length(2);
    should(limits[1].pileNo).equal(C);
    limits[1].message.should.match(/maxHeldRecords 5/);
    should(server.metrics().gauges.recordsPending).equal(5);

    // Room again: the pile's resend of the refused record is handed over; nothing was lost.
    server.confirm({ tradeNo: trade(1), pileNo: A });
    should(ack(await a.next()).tradeNo).equal(trade(1));
    a.write(recordFrame(recordBody({ pile: A, trade: trade(4) }), '0a00'));
    const r4 = await nextEvent<RecordEvent>(server, 'record');
    should([r4.pileNo, r4.frame.body.tradeNo, r4.arrival]).eql([A, trade(4), 'new']);
  });
});
