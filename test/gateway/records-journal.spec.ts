/**
 * The record journal on real files: a malformed file is set aside and reported (YKC_STORE) while the
 * gateway listens with what could be read, a cut-off last line is ignored, the earlier JSON format is
 * migrated, the log stays bounded by compaction, and a process killed with SIGKILL at any moment
 * loses no confirmation that was reported durable.
 */
import { spawn } from 'child_process';
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import should from 'should';
import { FileJournal, ProblemEvent, RecordBook, RecordEvent } from '../../src/gateway';
import { ack, BASE_PILE, BASE_TRADE, nextEvent, recordBody, recordFrame, RecordRig } from '../support/record-piles';

/** The content id as docs/records.md defines it: SHA-1 of the body bytes, first 16 hex digits. */
const idOf = (bodyHex: string): string => createHash('sha1').update(Buffer.from(bodyHex, 'hex')).digest('hex').slice(0, 16);
const BODY = recordBody();
const confirmedLine = (trade = BASE_TRADE, result = 0) => JSON.stringify({ k: 'c', p: BASE_PILE, t: trade, i: idOf(recordBody({ trade })), r: result });

describe('gateway: record journal (append-only, validated, set aside when broken)', function () {
  this.timeout(20_000);
  const rig = new RecordRig();
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ykc-journal-'));
  });
  afterEach(async () => {
    await rig.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  /** A confirmed record's resend is acknowledged from the journal and not handed to the flow. */
  async function expectConfirmedFromJournal(): Promise<void> {
    const p = await rig.pile(BASE_PILE);
    let emitted = 0;
    rig.server.on('record', () => emitted++);
    p.write(recordFrame(BODY, '3300'));
    should(ack(await p.next())).eql({ tradeNo: BASE_TRADE, result: 0, seq: '3300' });
    should(emitted).equal(0);
  }

  it('a malformed line: the file is kept aside with a timestamp, YKC_STORE names it, the gateway listens with the entries that could be read', async () => {
    const file = path.join(dir, 'records.jsonl');
    fs.writeFileSync(file, `${confirmedLine()}\nthis is not json\n{"k":"c","p":"x"}\n`);
    await rig.start({}, new FileJournal(file));
    const p = await rig.problem('YKC_STORE');
    p.message.should.containEql(file);
    p.message.should.match(/2 malformed line\(s\) \(first: line 2\)/);
    const aside = fs.readdirSync(dir).filter((f) => f.startsWith('records.jsonl.corrupt-'));
    should(aside).have.length(1);
    should(p.details).containEql({ keptAs: path.join(dir, aside[0]), entriesRead: 1 });
    should(fs.readFileSync(path.join(dir, aside[0]), 'utf8')).containEql('this is not json');
    await expectConfirmedFromJournal();
    // The new file holds only valid lines.
    for (const line of fs.readFileSync(file, 'utf8').split('\n').filter(Boolean)) should(JSON.parse(line).k).be.oneOf('h', 'c', 'l');
  });

  it('a last line cut off mid-write is ignored and reported; the entries before it are kept and the file is clean again', async () => {
    const file = path.join(dir, 'records.jsonl');
    fs.writeFileSync(file, `${confirmedLine()}\n{"k":"c","p":"3201020000`);
    const server = await rig.start({}, new FileJournal(file));
    const p = await rig.problem('YKC_STORE');
    p.message.should.match(/last line was cut off/);
    should(fs.readdirSync(dir).filter((f) => f.includes('corrupt'))).be.empty();
    should(fs.readFileSync(file, 'utf8')).equal(`${confirmedLine()}\n`);
    await expectConfirmedFromJournal();
  });

  it('a file that is not a journal at all (binary) is set aside; the gateway starts empty and listens', async () => {
    const file = path.join(dir, 'records.jsonl');
    fs.writeFileSync(file, Buffer.from([0xff, 0x00, 0x13, 0x0a, 0x68, 0x0a, 0x01]));
    const server = await rig.start({}, new FileJournal(file));
    const p = await rig.problem('YKC_STORE');
    p.message.should.match(/kept aside as/);
    const a = await rig.pile(BASE_PILE);
    a.write(recordFrame(BODY, '0100'));
    should((await nextEvent<RecordEvent>(server, 'record')).arrival).equal('new');
  });

  it('the earlier JSON format (trade numbers only) is migrated: its trade numbers are handed over again as resend-unconfirmed, never absorbed', async () => {
    const file = path.join(dir, 'records.jsonl');
    const old = path.join(dir, 'records.json');
    fs.writeFileSync(old, JSON.stringify({ unconfirmed: [], confirmed: [[BASE_TRADE, 0]] }));
    const server = await rig.start({}, new FileJournal(file));
    const a = await rig.pile(BASE_PILE);
    a.write(recordFrame(BODY, '0100'));
    const r = await nextEvent<RecordEvent>(server, 'record');
    should([r.arrival, r.held]).eql(['resend-unconfirmed', true]);
    should(fs.existsSync(old)).be.false();
    should(fs.readdirSync(dir).filter((f) => f.startsWith('records.json.migrated-'))).have.length(1);
    should(fs.readFileSync(file, 'utf8')).containEql(`{"k":"l","t":"${BASE_TRADE}","p":null}`);
    server.confirm({ tradeNo: BASE_TRADE, pileNo: BASE_PILE, id: r.id });
    should(ack(await a.next()).result).equal(0);
    await rig.stop();
    // After the confirmation the migrated entry is replaced by the real one.
    const lines = fs.readFileSync(file, 'utf8').split('\n').filter(Boolean);
    should(lines).containEql(JSON.stringify({ k: 'c', p: BASE_PILE, t: BASE_TRADE, i: r.id, r: 0 }));
  });

  it('appending is bounded by compaction (its fsync off the event loop): 5 000 records through a memory of 100 leave a short file with the last 100 confirmations', async () => {
    const file = path.join(dir, 'records.jsonl');
    const pileNo = '32010200000001';
    let book = new RecordBook(100, new FileJournal(file, 0));
    for (let n = 0; n < 5000; n++) {
      const ref = { pileNo, tradeNo: String(n).padStart(32, '0'), id: n.toString(16).padStart(16, '0') };
      book.hold({ ...ref, seq: 0, type: 0x3b, receivedAt: n, resends: 0, timer: null });
      book.markConfirmed(ref, 0, n % 10 === 0);
      if (n % 50 === 0) await new Promise((r) => setTimeout(r, 1));
    }
    await new Promise((r) => setTimeout(r, 200)); // a rewrite in flight completes
    const lines = fs.readFileSync(file, 'utf8').split('\n').filter(Boolean).length;
    should(lines).be.below(2 * 200 + 1000 + 200);
    book.close();
    should(fs.readdirSync(dir).filter((f) => f.endsWith('.tmp'))).be.empty();
    book = new RecordBook(100, new FileJournal(file, 0));
    should(book.loadProblems).be.empty();
    should(book.stats()).containEql({ confirmedMemory: 100, unconfirmed: 0 });
    for (const n of [4900, 4999]) should(book.classify({ pileNo, tradeNo: String(n).padStart(32, '0'), id: n.toString(16).padStart(16, '0') })).equal('resend-confirmed');
    book.close();
  });

  it('kill -9 while writing: every confirmation reported durable before the kill is in the journal after it', async function () {
    const file = path.join(dir, 'records.jsonl');
    const doneFile = path.join(dir, 'done');
    const memory = 200;
    const writer = path.join(__dirname, '..', 'support', 'journal-writer.js');
    const child = spawn(process.execPath, [writer, file, doneFile, String(memory)], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    const exited = new Promise<NodeJS.Signals | null>((r) => child.on('exit', (_code, signal) => r(signal)));
    // Past the first compaction (one per ~700 records with memory 200), whatever the disk's fsync costs.
    const deadline = Date.now() + 15_000;
    const count = () => (fs.existsSync(doneFile) ? fs.readFileSync(doneFile, 'utf8').split('\n').length - 1 : 0);
    while (count() < 900 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    child.kill('SIGKILL');
    should(await exited).equal('SIGKILL', stderr);
    const done = fs.readFileSync(doneFile, 'utf8').split('\n').slice(0, -1).map(Number);
    should(done.length).be.above(100, `the writer confirmed only ${done.length} records: ${stderr}`);

    const book = new RecordBook(memory, new FileJournal(file, 0));
    for (const p of book.loadProblems) p.message.should.match(/last line was cut off/); // at most a partial line
    should(fs.readdirSync(dir).filter((f) => f.includes('corrupt'))).be.empty();
    // The journal remembers the last `memory` confirmations: each one reported durable is there, with its
    // result. (One more may have been confirmed after the last reported, pushing the oldest out.)
    for (const n of done.slice(-(memory - 1))) {
      const ref = { pileNo: '32010200000001', tradeNo: String(n).padStart(32, '0'), id: n.toString(16).padStart(16, '0') };
      should(book.classify(ref)).equal('resend-confirmed', `record ${n}`);
      should(book.confirmedResult(ref)).equal(n % 2);
    }
    book.close();
  });
});
