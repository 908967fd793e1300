/**
 * Child process for the kill -9 test (test/gateway/records-journal.spec.ts): holds and confirms
 * records through a RecordBook with a FileJournal as fast as it can, and after each confirmation
 * that returned durable appends its trade number to a side file. The parent kills it with SIGKILL
 * at an arbitrary moment — mid-append, mid-fsync or mid-rewrite (compaction runs its fsync off the
 * event loop, so the loop yields now and then) — and reloads the journal.
 * Usage: node journal-writer.js <journal> <done-file> <memory>
 */
import * as fs from 'fs';
import { FileJournal, RecordBook } from '../../src/gateway';

const [journalFile, doneFile, memory] = process.argv.slice(2);
const book = new RecordBook(Number(memory), new FileJournal(journalFile, 100));
const done = fs.openSync(doneFile, 'a');
const pileNo = '32010200000001';
(async () => {
  for (let n = 0; ; n++) {
    const tradeNo = String(n).padStart(32, '0');
    const id = n.toString(16).padStart(16, '0');
    book.hold({ pileNo, tradeNo, id, seq: n & 0xffff, type: 0x3b, receivedAt: Date.now(), resends: 0, timer: null });
    if (book.markConfirmed({ pileNo, tradeNo, id }, n % 2, true).durable) fs.writeSync(done, `${n}\n`);
    // Let the event loop run now and then, as in the gateway: a rewrite's fsync completes off it.
    if (n % 16 === 0) await new Promise((r) => setImmediate(r));
  }
})();
