/**
 * Hostile review (issue 11), gateway level: independent raw-socket piles (hand-built 0x3B bytes, own
 * CRC) against a real YkcServer with a real journal file. Each test is a way a record could be
 * acknowledged to its pile without ever reaching the flow, or reach it twice.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import should from 'should';
import { FileJournal, RecordEvent } from '../../src/gateway';
import { ack, BASE_TRADE, nextEvent, recordBody, recordFrame, RecordRig, ZERO_TRADE } from '../support/record-piles';

const A = '32010200000011';
const B = '32010200000012';

describe('adversarial: records through the gateway (raw piles, real journal)', function () {
  this.timeout(20_000);
  const rig = new RecordRig();
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ykc-adv-rec-'));
  });
  afterEach(async () => {
    await rig.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('a confirmation for a (pile, trade number) the gateway never saw swallows no later record of that pile under that number', async () => {
    const server = await rig.start({}, new FileJournal(path.join(dir, 'r.jsonl'), 0));
    const a = await rig.pile(A);
    // The flow confirms something that never came (a typo, a replayed msg, a record of another site): the pile is told.
    should(server.confirm({ tradeNo: ZERO_TRADE, pileNo: A })).containEql({ pileNo: A, result: 0, sent: true });
    should(ack(await a.next()).tradeNo).equal(ZERO_TRADE);
    // Later the pile's real offline session arrives under the all-zero trade number: it must reach the flow,
    // held, unacknowledged until the flow confirms it.
    const rec = nextEvent<RecordEvent>(server, 'record', () => true, 5000);
    a.write(recordFrame(recordBody({ trade: ZERO_TRADE, pile: A, variant: 9 }), '0100'));
    const r = await rec;
    should([r.pileNo, r.arrival, r.held]).eql([A, 'new', true]);
    should(await rig.settle(a, A, '0200')).be.empty();
    should(server.confirm({ tradeNo: ZERO_TRADE, pileNo: A, id: r.id })).containEql({ sent: true });
    should(ack(await a.next())).eql({ tradeNo: ZERO_TRADE, result: 0, seq: '0100' });
  });

  it('the same holds across a restart: the journalled blind confirmation absorbs nothing', async () => {
    const file = path.join(dir, 'r.jsonl');
    let server = await rig.start({}, new FileJournal(file, 0));
    server.confirm({ tradeNo: BASE_TRADE, pileNo: A }); // pile offline, record unknown
    await rig.stop();
    server = await rig.start({}, new FileJournal(file, 0));
    const a = await rig.pile(A);
    const rec = nextEvent<RecordEvent>(server, 'record', () => true, 5000);
    a.write(recordFrame(recordBody({ pile: A }), '0100'));
    should((await rec).arrival).equal('new');
    should(await rig.settle(a, A, '0200')).be.empty();
  });

  it("pile B floods A's trade number (A's number in the body, then its own): A's real record reaches the flow once and is acknowledged only after the confirm", async () => {
    const server = await rig.start({}, new FileJournal(path.join(dir, 'r.jsonl'), 0));
    const a = await rig.pile(A);
    const b = await rig.pile(B);
    const records: RecordEvent[] = [];
    server.on('record', (e) => records.push(e));
    a.write(recordFrame(recordBody({ pile: A }), '0100'));
    for (let i = 0; i < 20; i++) b.write(recordFrame(recordBody({ pile: A, variant: i }), `1${i.toString(16).padStart(3, '0')}`));
    b.write(recordFrame(recordBody({ pile: B }), '2000'));
    await rig.settle(b, B, '2100');
    // A resends while held, B resends its own.
    a.write(recordFrame(recordBody({ pile: A }), '0300'));
    should(await rig.settle(a, A, '0400')).be.empty();
    should(records.map((r) => r.pileNo).sort()).eql([A, B]);
    should(server.counters.recordsForeign).equal(20);
    // Trade number alone is ambiguous now (A and B hold it): refused, nothing acknowledged.
    should(() => server.confirm({ tradeNo: BASE_TRADE })).throw(/piles/);
    should(await rig.settle(a, A, '0500')).be.empty();
    const ra = records.find((r) => r.pileNo === A)!;
    should(server.confirm({ tradeNo: BASE_TRADE, pileNo: A, id: ra.id })).containEql({ sent: true });
    should(ack(await a.next())).eql({ tradeNo: BASE_TRADE, result: 0, seq: '0300' });
    should(records.filter((r) => r.pileNo === A)).have.length(1);
  });

  it('restart with the record held: the late confirm (with its id) after the reload finds it; the resend is then acknowledged, never handed over twice', async () => {
    const file = path.join(dir, 'r.jsonl');
    let server = await rig.start({}, new FileJournal(file, 0));
    let a = await rig.pile(A);
    const first = nextEvent<RecordEvent>(server, 'record');
    a.write(recordFrame(recordBody({ trade: ZERO_TRADE, pile: A, variant: 3 }), '0100'));
    const r = await first;
    await rig.stop();
    server = await rig.start({}, new FileJournal(file, 0));
    a = await rig.pile(A);
    should(server.confirm({ tradeNo: ZERO_TRADE, pileNo: A, id: r.id })).containEql({ result: 0, sent: true });
    should(ack(await a.next()).tradeNo).equal(ZERO_TRADE);
    const records: RecordEvent[] = [];
    server.on('record', (e) => records.push(e));
    a.write(recordFrame(recordBody({ trade: ZERO_TRADE, pile: A, variant: 3 }), '0200'));
    should(ack(await a.next())).eql({ tradeNo: ZERO_TRADE, result: 0, seq: '0200' });
    // A second all-zero session after all that is still a new record.
    a.write(recordFrame(recordBody({ trade: ZERO_TRADE, pile: A, variant: 4 }), '0300'));
    should(await rig.settle(a, A, '0400')).be.empty();
    should(records.map((x) => x.arrival)).eql(['new']);
  });
});
