/**
 * Hostile review (issue 11.5): the record memory (BoundedMap) and the journal rewritten from it. A
 * flow that lets more records wait than `confirmedMemory`, then confirms many, must not make the
 * journal's rewrite forget records it still knows: after a restart every record still remembered is
 * recognised (held ones as resend-unconfirmed, confirmed ones as resend-confirmed).
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import should from 'should';
import { FileJournal, RecordBook } from '../../src/gateway';
import { BoundedMap } from '../../src/gateway/bounded-map';

const PILE = '32010200000041';
const ref = (n: number) => ({ pileNo: PILE, tradeNo: String(n).padStart(32, '0'), id: n.toString(16).padStart(16, '0') });

describe('adversarial: record memory and its journal rewrite', function () {
  this.timeout(30_000);
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ykc-adv-mem-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('BoundedMap: after evictions and then many set+delete pairs, entries() still lists every live key, oldest first', () => {
    const m = new BoundedMap<number>(100);
    let k = 0;
    for (let i = 0; i < 300; i++) m.set(`a${k++}`, i);
    for (let i = 0; i < 3000; i++) {
      const key = `b${k++}`;
      m.set(key, i);
      m.delete(key);
    }
    // The first set beyond 100 evicted a200; every later set+delete left 99.
    should(m.size).equal(99);
    const live = [...m.entries()].map(([key]) => key);
    should(live.length).equal(99);
    should(live[0]).equal('a201');
    for (let i = 0; i < 50; i++) m.set(`c${k++}`, i);
    should(m.size).equal(100);
    should([...m.entries()][0][0]).equal('a250'); // the oldest went first
  });

  it('RecordBook: 150 records waiting (memory 100), then 3 000 held and confirmed: a restart still knows the 99 newest waiting and the 100 newest confirmed', () => {
    const file = path.join(dir, 'records.jsonl');
    const book = new RecordBook(100, new FileJournal(file, 0));
    const hold = (n: number) => book.hold({ ...ref(n), seq: n & 0xffff, type: 0x3b, receivedAt: 1_700_000_000_000 + n, resends: 0, timer: null });
    for (let n = 0; n < 150; n++) hold(n);
    for (let n = 1000; n < 4000; n++) {
      hold(n);
      book.markConfirmed(ref(n), 0, true);
    }
    book.close();
    const again = new RecordBook(100, new FileJournal(file, 0));
    // The first hold beyond the memory evicted record 50; every later hold+confirm left 99 waiting.
    const waiting = [];
    for (let n = 51; n < 150; n++) waiting.push(again.classify(ref(n)));
    should(waiting.filter((a) => a !== 'resend-unconfirmed').length).equal(0, `${waiting.filter((a) => a !== 'resend-unconfirmed').length} of the 99 newest waiting records forgotten by the rewrite`);
    for (let n = 3900; n < 4000; n++) should(again.classify(ref(n))).equal('resend-confirmed');
    again.close();
  });
});
