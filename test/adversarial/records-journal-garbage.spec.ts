/**
 * Hostile review (issue 11.5): a record journal a person or a crash has mangled — wrong types, a
 * Windows editor's BOM and CRLF, a 5 MB line, NUL bytes where a crash left the file's tail unwritten,
 * a line cut mid-write. The gateway always listens, keeps every valid entry, and a raw pile's resend of
 * a confirmed record is still acknowledged without reaching the flow.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import should from 'should';
import { FileJournal, RecordEvent } from '../../src/gateway';
import { recordDigest } from '../../src/gateway/records';
import { ack, recordBody, recordFrame, RecordRig } from '../support/record-piles';

const A = '32010200000051';
const TRADE = `${A}01${'7'.repeat(16)}`;

describe('adversarial: a mangled record journal', function () {
  this.timeout(20_000);
  const rig = new RecordRig();
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ykc-adv-garbage-'));
  });
  afterEach(async () => {
    await rig.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('keeps every valid line among wrong types, BOM, CRLF, a 5 MB line and a NUL tail; the confirmed record is still recognised', async () => {
    const file = path.join(dir, 'records.jsonl');
    const body = recordBody({ trade: TRADE, pile: A });
    const id = recordDigest(recordFrame(body, '0000'));
    const good = JSON.stringify({ k: 'c', p: A, t: TRADE, i: id, r: 0 });
    const other = (n: number) => JSON.stringify({ k: 'c', p: A, t: String(n).padStart(32, '0'), i: '0'.repeat(16), r: 0 });
    const lines = [
      '\uFEFF' + other(1),
      JSON.stringify({ k: 'c', p: A, t: TRADE, i: id, r: '0' }), // result as a string
      JSON.stringify({ k: 'c', p: A, t: TRADE, i: id, r: 256 }),
      JSON.stringify({ k: 'h', p: A, t: TRADE, i: id, a: -1 }),
      JSON.stringify({ k: 'h', p: 14, t: TRADE, i: id, a: 1 }),
      JSON.stringify({ k: 'c', p: A, t: TRADE + '0', i: id, r: 0 }),
      JSON.stringify({ k: 'x', p: A, t: TRADE, i: id, r: 0 }),
      '[1,2,3]',
      'null',
      '{"__proto__":{"k":"c"},"p":"' + A + '"}',
      'x'.repeat(5 * 1024 * 1024),
      other(2) + '\r',
      good + '\r',
      other(3),
    ];
    fs.writeFileSync(file, lines.join('\n') + '\n' + '\0'.repeat(4096));
    const server = await rig.start({}, new FileJournal(file, 0));
    const store = await rig.problem('YKC_STORE');
    should(store.message).match(/kept aside/);
    // The good entries were read: the confirmed record's resend is acknowledged, never handed over.
    const records: RecordEvent[] = [];
    server.on('record', (e) => records.push(e));
    const a = await rig.pile(A);
    a.write(recordFrame(body, '0100'));
    should(ack(await a.next())).eql({ tradeNo: TRADE, result: 0, seq: '0100' });
    should(records).be.empty();
    for (const n of [2, 3]) should(server.records.classify({ pileNo: A, tradeNo: String(n).padStart(32, '0'), id: '0'.repeat(16) })).equal('resend-confirmed');
    // The file is clean again and small; the mangled one is kept aside.
    const now = fs.readFileSync(file, 'utf8');
    should(now.length).be.below(10_000);
    should(fs.readdirSync(dir).some((f) => f.includes('.corrupt-'))).be.true();
  });
});
