/**
 * examples/records-sqlite.json end to end: the example flow on a real Node-RED runtime with the real
 * node-red-node-sqlite node writing a real SQLite file, piles over TCP on 127.0.0.1 — a virtual pile
 * (src/simulator) charging a whole session, and a scripted pile replaying the captured 0x3B record.
 *
 * What must hold: a record is acknowledged (0x40) only once its row is in the file; a failed write
 * confirms nothing and the pile keeps the record; a Node-RED restart between receipt and store, or
 * between store and confirm, ends with exactly one row; a resend of a confirmed record is not stored twice.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import should from 'should';
import helper = require('node-red-node-test-helper');
import type { EventEmitter } from 'events';
import type { FrameEvent, YkcServer } from '../../src/gateway';
import type { YkcServerNode } from '../../nodes/shared/server-node';
import { billLevels, Tariff } from '../../src/billing';
import { VirtualPile } from '../../src/simulator';
import { ScriptedPile } from '../support/pile-client';
import { rawFrame } from '../support/raw';
import { loadVectors, REPO_ROOT } from '../support/repo';
import { Collector, loginFrame } from './commands-harness';

/* eslint-disable @typescript-eslint/no-require-imports */
const serverNode = require('../../nodes/ykc-server');
const inNode = require('../../nodes/ykc-in');
const billingNode = require('../../nodes/ykc-billing');
const confirmNode = require('../../nodes/ykc-confirm');
const sqliteNode = require('node-red-node-sqlite/sqlite.js');
const sqlite3 = require('sqlite3') as {
  Database: new (file: string, mode: number, cb?: (err: Error | null) => void) => SqliteDb;
  OPEN_READONLY: number;
  OPEN_READWRITE: number;
  OPEN_CREATE: number;
};
/* eslint-enable @typescript-eslint/no-require-imports */

interface SqliteDb {
  all(sql: string, cb: (err: Error | null, rows: Row[]) => void): void;
  exec(sql: string, cb: (err: Error | null) => void): void;
  close(cb?: (err: Error | null) => void): void;
}
/** What a VirtualPile's 'record' event carries (declared here: the simulator is renaming its export). */
interface PileRecordEvent {
  event: 'sent' | 'confirmed' | 'refused' | 'abandoned' | 'stored';
  tradeNo: string;
  attempt: number;
  body: Record<string, unknown>;
}
type Row = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
type Flow = helper.TestFlowsItem<any>[]; // eslint-disable-line @typescript-eslint/no-explicit-any
type Msg = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

helper.init(require.resolve('node-red'));

const nodesDir = path.dirname(require.resolve('@node-red/nodes/package.json', { paths: [path.dirname(require.resolve('node-red'))] }));
const core = (rel: string) => require(path.join(nodesDir, 'core', rel)); // eslint-disable-line @typescript-eslint/no-require-imports
const NODES = [serverNode, inNode, billingNode, confirmNode, sqliteNode, core('common/20-inject.js'), core('function/15-change.js'), core('common/90-comment.js')];

const EXAMPLE: Flow = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'examples', 'records-sqlite.json'), 'utf8'));
const TAB = EXAMPLE.find((n) => n.type === 'tab')!.id;
const byName = (name: string) => EXAMPLE.find((n) => n.name === name)!;
const byType = (type: string) => EXAMPLE.filter((n) => n.type === type);
const CREATE_SQL = byName('create table').sql as string;
const CARD = '00000000D14B0A54';

/** Reads every row of the records table with a separate connection (read-only). */
function readRows(file: string): Promise<Row[]> {
  return new Promise((resolve, reject) => {
    const db = new sqlite3.Database(file, sqlite3.OPEN_READONLY, (err) => {
      if (err) return reject(err);
      db.all('SELECT * FROM ykc_records ORDER BY trade_no', (e, rows) => db.close(() => (e ? reject(e) : resolve(rows))));
    });
  });
}

function createTable(file: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const db = new sqlite3.Database(file, sqlite3.OPEN_READWRITE | sqlite3.OPEN_CREATE, (err) => {
      if (err) return reject(err);
      db.exec(CREATE_SQL, (e) => db.close(() => (e ? reject(e) : resolve())));
    });
  });
}

function nextEvent<T>(em: EventEmitter, name: string, pred: (v: T) => boolean = () => true, timeoutMs = 8000): Promise<T> {
  return new Promise((resolve, reject) => {
    const on = (v: T) => {
      if (pred(v)) done(null, v);
    };
    const t = setTimeout(() => done(new Error(`no "${name}" event within ${timeoutMs} ms`)), timeoutMs);
    const done = (e: Error | null, v?: T) => {
      clearTimeout(t);
      em.off(name, on);
      if (e) reject(e);
      else resolve(v as T);
    };
    em.on(name, on);
  });
}

interface Opts {
  port?: number;
  db: string;
  mode?: 'RWC' | 'RO';
  /** Leave ykc-confirm off the write's output: the runtime "stops" between the write and the confirm. */
  cutConfirm?: boolean;
  tariff?: string;
}

interface Runtime {
  gw: YkcServer;
  port: number;
  /** Messages leaving the INSERT node (one per successful write). */
  stored: Collector;
  confirmed: Collector;
  storeErrors: Collector;
  created: Collector;
}

/**
 * The example as it would be imported, with what a test must change: the gateway on 127.0.0.1 and the
 * given port, the database file, debug nodes as helper nodes, and helper nodes watching the two
 * sqlite nodes' outputs (observation only).
 */
function exampleFlow(o: Opts): Flow {
  const insert = byName('INSERT OR IGNORE');
  const confirm = byType('ykc-confirm')[0];
  const flow: Flow = [];
  for (const n of EXAMPLE) {
    if (n.type === 'ykc-server') flow.push({ ...n, host: '127.0.0.1', port: o.port ?? 0, ...(o.tariff !== undefined ? { tariff: o.tariff } : {}) });
    else if (n.type === 'sqlitedb') flow.push({ ...n, db: o.db, mode: o.mode ?? 'RWC' });
    else if (n.type === 'debug') flow.push({ id: n.id, type: 'helper', z: TAB, name: n.name, wires: [] });
    else if (n.id === insert.id) flow.push({ ...n, wires: [[...(o.cutConfirm ? [] : [confirm.id]), 'obs-stored']] });
    else if (n.name === 'create table') flow.push({ ...n, wires: [['obs-created']] });
    else flow.push(n);
  }
  flow.push({ id: 'obs-stored', type: 'helper', z: TAB, wires: [] }, { id: 'obs-created', type: 'helper', z: TAB, wires: [] });
  return flow;
}

/**
 * node-red-node-test-helper 0.3.6 registers its preloaded core types (catch, status, complete) once
 * per node of that type in the flow, so a flow with two Catch nodes fails with "catch already
 * registered". Load with each registered once.
 */
async function loadOnce(nodes: unknown[], flow: Flow): Promise<void> {
  const mods = (helper as unknown as { _nodeModules: Record<string, (red: unknown) => unknown> })._nodeModules;
  const originals = { ...mods };
  const seen = new Set<string>();
  for (const [type, fn] of Object.entries(originals)) {
    mods[type] = (red) => {
      if (seen.has(type)) return undefined;
      seen.add(type);
      return fn(red);
    };
  }
  try {
    await helper.load(nodes as never, flow);
  } finally {
    Object.assign(mods, originals);
  }
}

async function start(o: Opts): Promise<Runtime> {
  await loadOnce(NODES, exampleFlow(o));
  const s = helper.getNode(byType('ykc-server')[0].id) as unknown as YkcServerNode;
  await s.ready;
  return {
    gw: s.gateway!,
    port: s.port()!,
    stored: new Collector(helper.getNode('obs-stored')),
    confirmed: new Collector(helper.getNode(byName('confirmed').id)),
    storeErrors: new Collector(helper.getNode(byName('store error').id)),
    created: new Collector(helper.getNode('obs-created')),
  };
}

/**
 * For each 0x40 the gateway writes: had the INSERT node already sent a message on (which it does only
 * from the callback of a successful write)? Read at the moment of writing, from the test helper's
 * spy on Node.prototype.send — not from downstream nodes, whose delivery order is the runtime's.
 */
function watchAcks(gw: YkcServer): Array<{ tradeNo: string; result: number; afterWrite: boolean }> {
  const insertId = byName('INSERT OR IGNORE').id;
  const sendSpy = helper.getNode(insertId).send as unknown as { getCalls(): Array<{ thisValue: { id?: string } }> };
  const acks: Array<{ tradeNo: string; result: number; afterWrite: boolean }> = [];
  gw.on('sent', (ev) => {
    if (ev.frame.type !== 0x40) return;
    const writes = sendSpy.getCalls().filter((c) => c.thisValue?.id === insertId).length;
    acks.push({ tradeNo: String(ev.frame.body.tradeNo), result: ev.frame.body.result as number, afterWrite: writes > 0 });
  });
  return acks;
}

describe('example flow examples/records-sqlite.json (real SQLite)', function () {
  this.timeout(30_000);
  let dir: string;
  let dbFile: string;
  const virtual: VirtualPile[] = [];
  const scripted: ScriptedPile[] = [];

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ykc-sqlite-'));
    dbFile = path.join(dir, 'records.db');
    helper.settings({ userDir: path.join(dir, 'userdir') });
  });
  afterEach(async () => {
    await Promise.all(virtual.splice(0).map((p) => p.close()));
    for (const p of scripted.splice(0)) p.close();
    await helper.unload();
    helper.settings({});
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('is the flow the docs describe: after-store gateway, records only, billing, INSERT OR IGNORE with parameters, then confirm', () => {
    const server = byType('ykc-server')[0];
    server.should.containDeep({ recordConfirm: 'after-store', persist: true });
    Tariff.fromBody(JSON.parse(server.tariff)).modelCode.should.equal('0100');
    byType('ykc-in')[0].groups.should.eql(['records']);
    const insert = byName('INSERT OR IGNORE');
    insert.should.containDeep({ type: 'sqlite', sqlquery: 'prepared' });
    insert.sql.should.match(/^INSERT OR IGNORE INTO ykc_records/);
    insert.wires!.should.eql([[byType('ykc-confirm')[0].id]]);
    CREATE_SQL.should.match(/CREATE TABLE IF NOT EXISTS ykc_records \(\s*trade_no TEXT NOT NULL,/);
    // The record's identity (docs/records.md): keyed by trade_no alone, a second record under one trade number would be dropped.
    CREATE_SQL.should.match(/PRIMARY KEY \(pile_no, trade_no, record_id\)/);
    byName('on start').should.containDeep({ type: 'inject', once: true });
    const comment = byType('comment')[0];
    comment.info.should.match(/Store first, acknowledge second/);
    comment.info.should.match(/先入库，后确认/);
    for (const n of EXAMPLE) if (n.type !== 'tab' && n.type !== 'ykc-server' && n.type !== 'sqlitedb') should(n.z).equal(TAB);
  });

  async function virtualPile(port: number, n: number): Promise<VirtualPile> {
    const p = new VirtualPile({
      port,
      pileNo: String(32010200000000 + n),
      seed: n,
      speed: 1000,
      // At 1000× a 10 s heartbeat is every 10 ms of real time; slower ones keep the link steady on a
      // loaded machine. Resends every 300 ms of real time, the last after 3 s: time enough for a restart.
      timing: { heartbeatMs: 5_000_000, recordRetryMs: 300_000, recordRetries: 3, recordFinalMs: 3_000_000 },
    });
    virtual.push(p);
    const model = nextEvent(p, 'tariff');
    p.connect();
    await p.waitOnline();
    await model;
    return p;
  }

  /** Remote start, about 10 minutes of pile time at 60 kW, remote stop. Resolves with the trade number. */
  async function chargeSession(gw: YkcServer, p: VirtualPile, tradeNo: string): Promise<void> {
    p.plug(1);
    const started = await gw.request(p.pileNo, { type: 0x34, body: { tradeNo, pileNo: p.pileNo, gunNo: 1, logicalCardNo: '1000000000000001', physicalCardNo: CARD, balance: 1000 } });
    should(started!.body.result).equal(1);
    await nextEvent<FrameEvent>(gw, 'frame', (e) => e.frame.type === 0x13 && e.pileNo === p.pileNo && (e.frame.body.chargingMinutes as number) >= 10);
    const stopped = await gw.request(p.pileNo, { type: 0x36, body: { pileNo: p.pileNo, gunNo: 1 } });
    should(stopped!.body.result).equal(1);
  }

  it('a whole charging session: the record is written to the SQLite file first, then acknowledged; the row holds the bill and the audit', async () => {
    const rt = await start({ db: dbFile });
    await rt.created.next(3000, 'table created');
    const acks = watchAcks(rt.gw);
    const p = await virtualPile(rt.port, 7);
    const trade = `${p.pileNo}0125061008000000`.padEnd(32, '0');
    // The moment the pile gets its 0x40, the row must already be in the file.
    const rowsAtAck = new Promise<{ ev: PileRecordEvent; rows: Row[] }>((resolve, reject) => {
      p.on('record', (ev: PileRecordEvent) => {
        if (ev.event === 'confirmed' || ev.event === 'refused') readRows(dbFile).then((rows) => resolve({ ev, rows }), reject);
      });
    });
    await chargeSession(rt.gw, p, trade);
    const { ev, rows } = await rowsAtAck;
    should(ev).containDeep({ event: 'confirmed', tradeNo: trade }); // (on a loaded machine the pile may have resent once by then)
    rows.map((r) => r.trade_no).should.eql([trade]);
    // One 0x40 — or two when the pile's resend crossed the first on a slow machine (the gateway answers it too).
    should(acks[0]).eql({ tradeNo: trade, result: 0, afterWrite: true });
    acks.every((a) => a.tradeNo === trade && a.result === 0 && a.afterWrite).should.be.true();

    const rec = ev.body as Record<string, number | string>;
    const row = rows[0];
    row.should.containDeep({ pile_no: p.pileNo, gun_no: 1, stop_reason: 0x40, audit_ok: 1, arrival: 'new' });
    should(row.energy_units).equal(Math.round((rec.totalEnergy as number) * 1e4));
    should(row.energy_units).be.above(90_000); // ≥ 9 kWh: 10 minutes at 60 kW
    should(row.amount_units).equal(Math.round((rec.totalAmount as number) * 1e4));
    // The bill, worked out again here from the record's level energies at the gateway's tariff.
    const tariff = Tariff.fromBody(rt.gw.tariffFor(p.pileNo) as unknown as Record<string, unknown>);
    const energies = ['sharp', 'peak', 'flat', 'valley'].map((l) => Math.round((rec[`${l}Energy`] as number) * 1e4));
    const bill = billLevels(tariff, energies);
    should([row.computed_amount_units, row.elec_fee_units, row.service_fee_units]).eql([bill.totalAmount, bill.totalElecFee, bill.totalServiceFee]);
    should(row.computed_amount_units).equal(row.amount_units);
    should(row.elec_fee_units + row.service_fee_units).equal(row.amount_units);
    const audit = JSON.parse(row.audit);
    should(audit).containDeep({ ok: true, mismatches: [] });
    const stored = JSON.parse(row.record);
    should(stored).containDeep({ tradeNo: trade, pileNo: p.pileNo, totalAmount: rec.totalAmount });
    should(stored).not.have.properties(['bill', 'audit']);
    // Pile times become instants with the gateway's zone (+08:00); the store time carries it too.
    should(row.start_time).equal(String(stored.startTime).replace(' ', 'T') + '+08:00');
    should(row.end_time).equal(String(stored.endTime).replace(' ', 'T') + '+08:00');
    should(row.stored_at).match(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}\+08:00$/);

    const c = await rt.confirmed.next();
    should(c.ykc.confirmed).eql({ result: 0, sent: true });
    should(rt.stored.count).equal(1);
    should(p.pendingRecords()).eql([]);
  });

  it('the database refuses the write: nothing is confirmed and the pile keeps the record; after a restart its resend is stored once and confirmed', async () => {
    await createTable(dbFile);
    const a = await start({ db: dbFile, mode: 'RO' });
    const p = await virtualPile(a.port, 8);
    const trade = `${p.pileNo}0125061009000000`.padEnd(32, '0');
    await chargeSession(a.gw, p, trade);
    const err = await a.storeErrors.next(8000, 'store error');
    should(err.error.message).match(/SQLITE_READONLY/);
    should(a.confirmed.count).equal(0);
    should(a.gw.records.findHeld(trade)).have.length(1);
    should(p.pendingRecords().map((b) => b.tradeNo)).eql([trade]);
    should(await readRows(dbFile)).eql([]);

    // Restart Node-RED, this time with a database that takes writes. The pile reconnects by itself.
    const confirmed = nextEvent<PileRecordEvent>(p, 'record', (e) => e.event === 'confirmed');
    await helper.unload();
    const b = await start({ db: dbFile, port: a.port });
    const ev = await confirmed;
    should(ev.tradeNo).equal(trade);
    const rows = await readRows(dbFile);
    rows.map((r) => [r.trade_no, r.arrival]).should.eql([[trade, 'resend-unconfirmed']]);
    should((await b.confirmed.next()).ykc.confirmed).eql({ result: 0, sent: true });
    should(p.pendingRecords()).eql([]);
  });

  it('a restart between the write and the confirm: the resend is written again with INSERT OR IGNORE — still one row — and confirmed', async () => {
    const a = await start({ db: dbFile, cutConfirm: true });
    await a.created.next(3000, 'table created');
    const p = await virtualPile(a.port, 9);
    const trade = `${p.pileNo}0125061010000000`.padEnd(32, '0');
    await chargeSession(a.gw, p, trade);
    await a.stored.next(8000, 'first write');
    should((await readRows(dbFile)).map((r) => [r.trade_no, r.arrival])).eql([[trade, 'new']]);
    should(p.pendingRecords().length).equal(1); // not acknowledged

    const confirmed = nextEvent<PileRecordEvent>(p, 'record', (e) => e.event === 'confirmed');
    await helper.unload();
    const b = await start({ db: dbFile, port: a.port });
    await confirmed;
    const again = await b.stored.next(8000, 'second write');
    should(again.ykc.record.arrival).equal('resend-unconfirmed');
    // The second INSERT changed nothing: one row, as first written.
    should((await readRows(dbFile)).map((r) => [r.trade_no, r.arrival])).eql([[trade, 'new']]);
    should(b.stored.count).equal(1);
  });

  describe('the captured 0x3B record from a scripted pile', () => {
    const VECTOR = loadVectors().find((v) => v.type === '0x3B' && v.kind === 'captured (test input)')!;
    const PILE = '18220000000155';
    const TRADE = '18220000000155021673797553635328';
    const record = (seqHex: string) => rawFrame(0x3b, VECTOR.hex.slice(12, -4), seqHex);
    const wireSeq = (seqHex: string) => Buffer.from(seqHex, 'hex').readUInt16LE(0);

    async function pileOn(port: number): Promise<ScriptedPile> {
      const p = await ScriptedPile.connect(port);
      scripted.push(p);
      p.write(loginFrame(PILE));
      should((await p.next(0x02)).body.result).equal(0);
      return p;
    }

    it('a resend of a confirmed record (the 0x40 was lost) is acknowledged again and not stored twice; the failed audit is stored', async () => {
      const rt = await start({ db: dbFile });
      await rt.created.next(3000, 'table created');
      const p = await pileOn(rt.port);
      p.write(record('8001'));
      const ack = await p.next(0x40, () => true, 5000);
      should([ack.body.tradeNo, ack.body.result, ack.seq]).eql([TRADE, 0, wireSeq('8001')]);
      let rows = await readRows(dbFile);
      rows.length.should.equal(1);
      // The gateway's default tariff is not the one this pile used (sharp 2.30000, flat 1.30000, valley
      // 0.73333 against its 2.0, 2.0, 0.89; peak 2.00000 agrees): stored all the same, with the audit saying so.
      rows[0].should.containDeep({ trade_no: TRADE, pile_no: PILE, gun_no: 2, energy_units: 30067, amount_units: 26759, audit_ok: 0 });
      should(rows[0].computed_amount_units).equal(22049); // 0.73333 × 3.0067 = 2.2049033… → 2.2049
      should(JSON.parse(rows[0].audit).mismatches.map((m: Msg) => m.field)).eql(['sharpPrice', 'flatPrice', 'valleyPrice', 'valleyAmount', 'totalAmount']);

      p.write(record('8101'));
      const again = await p.next(0x40, () => true, 5000);
      should([again.body.tradeNo, again.body.result, again.seq]).eql([TRADE, 0, wireSeq('8101')]);
      p.write(rawFrame(0x03, `${PILE}0200`, '0200'));
      await p.next(0x04);
      rows = await readRows(dbFile);
      rows.length.should.equal(1);
      should(rt.stored.count).equal(1);
      should(rt.confirmed.count).equal(1);
    });

    it('with no tariff for the pile the record is still stored (audit NULL) and confirmed', async () => {
      const rt = await start({ db: dbFile, tariff: '' });
      await rt.created.next(3000, 'table created');
      const p = await pileOn(rt.port);
      p.write(record('8001'));
      should((await p.next(0x40, () => true, 5000)).body.result).equal(0);
      const rows = await readRows(dbFile);
      rows.map((r) => [r.trade_no, r.amount_units, r.audit_ok, r.audit, r.computed_amount_units]).should.eql([[TRADE, 26759, null, null, null]]);
    });
  });
});
