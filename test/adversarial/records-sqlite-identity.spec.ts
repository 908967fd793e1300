/**
 * Hostile review (issue 11): a site owner runs examples/records-sqlite.json exactly as shipped and
 * piles send what the gateway now treats as distinct records under one trade number — two offline
 * sessions of one pile with an all-zero trade number, and pile B's own record reusing pile A's trade
 * number. The gateway hands each over once; the example's table must then keep each as a row before
 * it is acknowledged, or the pile deletes a record the database never kept.
 * Piles are independent raw sockets (hand-built bytes, own CRC: test/support/raw.ts).
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import should from 'should';
import helper = require('node-red-node-test-helper');
import type { YkcServerNode } from '../../nodes/shared/server-node';
import { ack, BASE_TRADE, recordBody, recordFrame, ZERO_TRADE } from '../support/record-piles';
import { rawFrame } from '../support/raw';
import { RawPile } from '../support/raw-pile';
import { REPO_ROOT } from '../support/repo';

/* eslint-disable @typescript-eslint/no-require-imports */
const NODES = [
  require('../../nodes/ykc-server'),
  require('../../nodes/ykc-in'),
  require('../../nodes/ykc-billing'),
  require('../../nodes/ykc-confirm'),
  require('node-red-node-sqlite/sqlite.js'),
];
const sqlite3 = require('sqlite3') as { Database: new (file: string, mode: number, cb?: (err: Error | null) => void) => Db; OPEN_READONLY: number };
/* eslint-enable @typescript-eslint/no-require-imports */
type Row = Record<string, unknown>;
interface Db {
  all(sql: string, cb: (err: Error | null, rows: Row[]) => void): void;
  close(cb?: (err: Error | null) => void): void;
}
type Flow = helper.TestFlowsItem<any>[]; // eslint-disable-line @typescript-eslint/no-explicit-any

helper.init(require.resolve('node-red'));
const nodesDir = path.dirname(require.resolve('@node-red/nodes/package.json', { paths: [path.dirname(require.resolve('node-red'))] }));
const core = (rel: string) => require(path.join(nodesDir, 'core', rel)); // eslint-disable-line @typescript-eslint/no-require-imports
NODES.push(core('common/20-inject.js'), core('function/15-change.js'), core('common/90-comment.js'));

const A = '32010200000001';
const B = '32010200000002';

function readRows(file: string): Promise<Row[]> {
  return new Promise((resolve, reject) => {
    const db = new sqlite3.Database(file, sqlite3.OPEN_READONLY, (err) => {
      if (err) return reject(err);
      db.all('SELECT pile_no, trade_no, record FROM ykc_records ORDER BY rowid', (e, rows) => db.close(() => (e ? reject(e) : resolve(rows))));
    });
  });
}

/** The shipped example, changed only where a test must: port, database file, debug nodes. */
function exampleFlow(file: string, db: string): Flow {
  const example: Flow = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'examples', file), 'utf8'));
  const out: Flow = [];
  const keep = new Set(['tab', 'ykc-server', 'ykc-in', 'ykc-billing', 'ykc-confirm', 'sqlite', 'sqlitedb', 'inject', 'change', 'comment']);
  for (const n of example) {
    if (!keep.has(n.type)) out.push({ id: n.id, type: 'helper', z: n.z, wires: [] });
    else if (n.type === 'ykc-server') out.push({ ...n, host: '127.0.0.1', port: 0 });
    else if (n.type === 'sqlitedb') out.push({ ...n, db, mode: 'RWC' });
    else out.push(n);
  }
  return out;
}

const loginFrame = (pileNo: string) => rawFrame(0x01, `${pileNo}00010F${Buffer.from('HOSTILE1').toString('hex')}01${'00'.repeat(10)}04`, '0000');

async function pileOn(port: number, pileNo: string, piles: RawPile[]): Promise<RawPile> {
  const p = await RawPile.connect(port);
  piles.push(p);
  p.write(loginFrame(pileNo));
  for (;;) {
    const f = await p.next(5000);
    if (f.type === 0x02) {
      should(f.body[7]).equal(0);
      return p;
    }
  }
}

/** The next 0x40 this pile gets (other frames the gateway sends, e.g. time sync, are skipped). */
async function nextAck(p: RawPile, timeoutMs = 8000): Promise<ReturnType<typeof ack>> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const f = await p.next(Math.max(1, until - Date.now()));
    if (f.type === 0x40) return ack(f);
  }
}

for (const example of ['records-sqlite.json', 'demo.json']) {
  describe(`adversarial: examples/${example} keeps every record the gateway hands over (real SQLite)`, function () {
    this.timeout(30_000);
    let dir: string;
    let dbFile: string;
    const piles: RawPile[] = [];

    beforeEach(async () => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ykc-adv-sqlite-'));
      dbFile = path.join(dir, 'records.db');
      helper.settings({ userDir: path.join(dir, 'userdir') });
      await helper.load(NODES as never, exampleFlow(example, dbFile));
    });
    afterEach(async () => {
      for (const p of piles.splice(0)) p.close();
      await helper.unload();
      helper.settings({});
      fs.rmSync(dir, { recursive: true, force: true });
    });

    async function ready(): Promise<number> {
      const serverId = exampleFlow(example, dbFile).find((x) => x.type === 'ykc-server')!.id;
      const n = helper.getNode(serverId) as unknown as YkcServerNode;
      await n.ready;
      // The table is created by an inject at start: wait until the file has it.
      for (let i = 0; i < 100; i++) {
        try {
          await readRows(dbFile);
          return n.port()!;
        } catch {
          await new Promise((r) => setTimeout(r, 50));
        }
      }
      throw new Error('table never created');
    }

    it('two offline sessions of one pile with an all-zero trade number: both rows exist when each 0x40 arrives; resends add nothing', async () => {
      const p = await pileOn(await ready(), A, piles);
      const s1 = recordBody({ trade: ZERO_TRADE, pile: A, variant: 1 });
      const s2 = recordBody({ trade: ZERO_TRADE, pile: A, variant: 2 });
      p.write(recordFrame(s1, '0100'));
      should(await nextAck(p)).eql({ tradeNo: ZERO_TRADE, result: 0, seq: '0100' });
      p.write(recordFrame(s2, '0200'));
      should(await nextAck(p)).eql({ tradeNo: ZERO_TRADE, result: 0, seq: '0200' });
      // The pile has deleted both: the database must hold both.
      const rows = await readRows(dbFile);
      rows.map((r) => [r.pile_no, r.trade_no]).should.eql([[A, ZERO_TRADE], [A, ZERO_TRADE]]);
      // Exact resends of each (the 0x40s were lost): acknowledged again, never a third row.
      p.write(recordFrame(s1, '0300'));
      should(await nextAck(p)).eql({ tradeNo: ZERO_TRADE, result: 0, seq: '0300' });
      p.write(recordFrame(s2, '0400'));
      should(await nextAck(p)).eql({ tradeNo: ZERO_TRADE, result: 0, seq: '0400' });
      should(await readRows(dbFile)).have.length(2);
    });

    it("pile B's own record reusing pile A's trade number: both rows exist when each pile has its 0x40", async () => {
      const portNo = await ready();
      const a = await pileOn(portNo, A, piles);
      const b = await pileOn(portNo, B, piles);
      b.write(recordFrame(recordBody({ trade: BASE_TRADE, pile: B }), '1100'));
      should(await nextAck(b)).eql({ tradeNo: BASE_TRADE, result: 0, seq: '1100' });
      a.write(recordFrame(recordBody({ trade: BASE_TRADE, pile: A }), '2100'));
      should(await nextAck(a)).eql({ tradeNo: BASE_TRADE, result: 0, seq: '2100' });
      const rows = await readRows(dbFile);
      rows.map((r) => [r.pile_no, r.trade_no]).sort().should.eql([[A, BASE_TRADE], [B, BASE_TRADE]]);
    });
  });
}
