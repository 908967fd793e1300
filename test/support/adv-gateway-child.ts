/**
 * Child process for test/adversarial/records-kill.spec.ts: a gateway ("confirm after store") with a
 * record journal whose "flow" confirms every record it is handed, and logs around each confirm:
 * `I <pile> <trade> <id>` before confirm() is called, `D …` after it returned durable, `R … <arrival>`
 * when a record is handed over. The parent kills it with SIGKILL at arbitrary moments.
 * Usage: node adv-gateway-child.js <journal> <log> <port-file> <confirmedMemory>
 */
import * as fs from 'fs';
import { FileJournal, YkcServer } from '../../src/gateway';

const [journalFile, logFile, portFile, memory] = process.argv.slice(2);
const log = fs.openSync(logFile, 'a');
const server = new YkcServer({ autoTimeSync: false, recordConfirm: 'after-store', confirmedMemory: Number(memory), maxHeldRecordsPerPile: 10_000 }, new FileJournal(journalFile, 100));
server.on('problem', () => {});
server.on('record', (e) => {
  const line = `${e.pileNo} ${String(e.frame.body.tradeNo)} ${e.id}`;
  fs.writeSync(log, `R ${line} ${e.arrival}\n`);
  setImmediate(() => {
    fs.writeSync(log, `I ${line}\n`);
    const out = server.confirm({ tradeNo: String(e.frame.body.tradeNo), pileNo: e.pileNo!, id: e.id });
    if (out.durable) fs.writeSync(log, `D ${line}\n`);
  });
});
void server.listen(0, '127.0.0.1').then((a) => fs.writeFileSync(portFile, String(a.port)));
