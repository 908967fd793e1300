/**
 * Hostile review (issue 11): Node-RED itself killed with SIGKILL at arbitrary moments — mid SQLite
 * write, between the write and ykc confirm, mid journal fsync or rewrite — while an independent raw
 * pile (hand-built bytes, own CRC) pushes records into examples/records-sqlite.json. The promise to
 * the site owner: a record the pile was acknowledged is a row in the database; every record ends up
 * as exactly one row once Node-RED is back and the pile has resent what it was not acknowledged.
 */
import { ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import should from 'should';
import { readAcks, recordBody, recordFrame } from '../support/record-piles';
import { rawFrame } from '../support/raw';
import { RawPile } from '../support/raw-pile';
import { freePort } from '../support/ports';
import { startRedChild } from '../support/red-child';

/* eslint-disable @typescript-eslint/no-require-imports */
const sqlite3 = require('sqlite3') as { Database: new (file: string, mode: number, cb?: (err: Error | null) => void) => Db; OPEN_READWRITE: number };
/* eslint-enable @typescript-eslint/no-require-imports */
interface Db {
  all(sql: string, cb: (err: Error | null, rows: Array<Record<string, string>>) => void): void;
  close(cb?: (err: Error | null) => void): void;
}

const A = '32010200000061';
const CHILD = path.join(__dirname, 'red-records-child.js');
const tradeOf = (n: number) => `${A}02${String(n).padStart(16, '0')}`;
const loginFrame = () => rawFrame(0x01, `${A}00010F${Buffer.from('REDKILL1').toString('hex')}01${'00'.repeat(10)}04`, '0000');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function rows(file: string): Promise<string[]> {
  return new Promise((resolve, reject) => {
    // Read-write: a connection that may roll back the hot journal a killed writer left.
    const db = new sqlite3.Database(file, sqlite3.OPEN_READWRITE, (err) => {
      if (err) return reject(err);
      db.all('SELECT trade_no FROM ykc_records', (e, r) => db.close(() => (e ? reject(e) : resolve(r.map((x) => x.trade_no)))));
    });
  });
}

const startRed = (userDir: string, port: number, db: string): Promise<ChildProcess> => startRedChild(CHILD, [userDir, String(port), db]);

describe('adversarial: Node-RED killed with SIGKILL while records go into SQLite (examples/records-sqlite.json)', function () {
  this.timeout(240_000);
  let dir: string;
  let child: ChildProcess | null = null;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ykc-adv-redkill-'));
  });
  afterEach(() => {
    child?.kill('SIGKILL');
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('acknowledged ⇒ a row; after the last restart every record is exactly one row', async () => {
    const port = await freePort();
    const db = path.join(dir, 'records.db');
    const userDir = path.join(dir, 'userdir');
    fs.mkdirSync(userDir);
    let next = 0;
    let seq = 1;
    const unacked = new Set<number>();
    const acked: number[] = [];
    const send = (p: RawPile, n: number) => p.write(recordFrame(recordBody({ trade: tradeOf(n), pile: A }), (seq++ & 0xffff).toString(16).padStart(4, '0')));

    for (let k = 0; k < 4; k++) {
      child = await startRed(userDir, port, db);
      // The example creates its table from an inject at start: records before it are not stored, so not confirmed (and resent later).
      if (k === 0) await sleep(1500);
      const pile = await RawPile.connect(port);
      pile.write(loginFrame());
      for (;;) if ((await pile.next(10_000)).type === 0x02) break;
      for (const n of [...unacked, ...acked.slice(-10)]) send(pile, n);
      const reader = readAcks(pile, 30_000, (n) => {
        if (unacked.delete(n)) acked.push(n);
      });
      const last = k === 3;
      const until = Date.now() + (last ? 1000 : 1500 + Math.floor(Math.random() * 3000));
      while (Date.now() < until) {
        if (unacked.size < 16) {
          unacked.add(next);
          send(pile, next++);
        } else await sleep(5);
      }
      if (last) for (let i = 0; i < 600 && unacked.size; i++) await sleep(50);
      const c = child;
      c.kill('SIGKILL');
      await new Promise<void>((r) => (c.exitCode !== null || c.signalCode ? r() : c.once('exit', () => r())));
      child = null;
      pile.close();
      await reader;
      // Every record the pile was acknowledged is in the database.
      const stored = new Set(await rows(db));
      const missing = acked.filter((n) => !stored.has(tradeOf(n)));
      should(missing).eql([], `run ${k}: acknowledged but not in the database`);
      if (process.env.ADV_DEBUG) console.log(k, { next, acked: acked.length, unacked: unacked.size, rows: stored.size });
    }
    should([...unacked]).eql([], 'records never acknowledged after the last, clean run');
    const all = await rows(db);
    should(all.length).equal(next);
    should(new Set(all).size).equal(next);
    should(next).be.above(20);
  });
});
