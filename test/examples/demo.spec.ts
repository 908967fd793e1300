/**
 * examples/demo.json (what `npm start` runs) in a real runtime: its three ykc-pile nodes log in to its
 * gateway, the charging schedule plugs, starts and stops cars, the dashboard widgets (replaced by
 * helper nodes) get the table rows, power points and records, a record is stored in a real SQLite
 * file before the pile gets its acknowledgement, and the Start / Stop buttons drive a gun.
 *
 * Changes for speed only: the piles' clock runs 20× (realtime frames every 0.75 s instead of 15 s),
 * the 10-second tick is fired by the test, and the schedule's plan is made due by setting its
 * times in flow context (the state the schedule itself keeps).
 *
 * A foreign pile (a raw TCP client with frames made by hand, not a ykc-pile node) logs in to the
 * demo's gateway as a real pile would once the gateway listens on 0.0.0.0: it must never receive a
 * remote start (0x34) or stop (0x36) from the demo.
 */
import should from 'should';
import sqlite3 from 'sqlite3';
import { Loaded, loadExample, Msg, readExample } from './harness';
import { ScriptedPile } from '../support/pile-client';
import { rawFrame } from '../support/raw';

const PILES = ['32010200000001', '32010200000002', '32010200000003'];
const GUNS = ['32010200000001/1', '32010200000001/2', '32010200000002/1', '32010200000003/1'];
const FOREIGN = '32019900000009';

/** 0x01 login (docs/protocol.md 5.1): DC, 2 guns, v1.5 (0x0F), firmware "REALPILE", LAN, no SIM, carrier "other". */
const foreignLogin = () => rawFrame(0x01, FOREIGN + '00020F' + Buffer.from('REALPILE', 'ascii').toString('hex') + '01' + '00'.repeat(10) + '04', '0100');
/** 0x13 realtime (docs/protocol.md 5.6), 60 bytes: state 3 charging or 2 idle, plugged in. */
function foreignRealtime(gun: number, charging: boolean, seq: string): Buffer {
  const trade = charging ? FOREIGN + '0' + gun + '2612041200000001' : '00'.repeat(16);
  const body =
    trade + FOREIGN + '0' + gun + (charging ? '03' : '02') + '00' + '01' +
    (charging ? 'D80E' + '2C01' : '00000000') + '3C' + '00'.repeat(8) + '32' + '3C' + '0500' + '1E00' + '10270000' + '00000000' + '20400000' + '0000';
  return rawFrame(0x13, body, seq);
}

type Row = { pile: string; gun: number; online: boolean; state: string; powerKw: number };

function query<T>(file: string, sql: string): Promise<T[]> {
  return new Promise((resolve, reject) => {
    const db = new sqlite3.Database(file, sqlite3.OPEN_READONLY, (e) => {
      if (e) return reject(e);
      db.all(sql, (err, rows) => db.close(() => (err ? reject(err) : resolve(rows as T[]))));
    });
  });
}

describe('example demo.json (npm start)', function () {
  this.timeout(30_000);
  let ex: Loaded;
  const rows = (m: Msg) => m.payload as Row[];
  const state = (m: Msg, key: string) => rows(m).find((r) => `${r.pile}/${r.gun}` === key);
  const flowContext = () => (ex.node('demo.schedule') as unknown as { context(): { flow: { get(k: string): any; set(k: string, v: unknown): void } } }).context().flow; // eslint-disable-line @typescript-eslint/no-explicit-any
  /** Waits for a table update in which every listed gun satisfies pred. */
  const table = (keys: string[], pred: (r: Row) => boolean, what: string) =>
    ex.inbox('demo.ui.table').wait((m) => keys.every((k) => { const r = state(m, k); return !!r && pred(r); }), 10_000, what);

  before(async () => {
    ex = await loadExample('demo.json', {
      patch(flow) {
        for (const n of flow) {
          if (n.type === 'ykc-pile') n.speed = 20;
          if (n.id === 'demo.tick') Object.assign(n, { repeat: '', once: false });
        }
      },
    });
  });

  after(async () => {
    await ex?.close();
  });

  it('ships three virtual piles on the gateway 127.0.0.1:8768 and a dashboard at /dashboard', () => {
    const flow = readExample('demo.json');
    should(flow.find((n) => n.type === 'ykc-server')).match({ host: '127.0.0.1', port: 8768, recordConfirm: 'after-store' });
    should(flow.filter((n) => n.type === 'ykc-pile').map((n) => n.pileNo)).eql(PILES);
    should(flow.find((n) => n.type === 'ui-base')).match({ path: '/dashboard' });
    should(flow.find((n) => n.type === 'sqlitedb')).match({ db: 'ykc-demo.db' });
  });

  it('the piles log in and the table shows all four guns idle', async () => {
    const m = await table(GUNS, (r) => r.online && r.state === 'idle-unplugged', 'four idle guns');
    should(rows(m)).have.length(4);
    should(ex.server.gateway!.onlineCount()).equal(3);
    // The records table is created at start (and the empty list shown) before any car arrives.
    should((await ex.inbox('demo.ui.records').wait(() => true, 5000, 'records table at start')).payload).eql([]);
  });

  it('Start / Stop buttons: plug in and start the chosen gun, then stop it; the "last command" text says so', async () => {
    const gun = '32010200000003/1';
    ex.press('demo.ui.gun', { topic: 'gun', payload: gun });
    ex.press('demo.ui.start', { topic: 'start', payload: 'start' });
    const result = ex.inbox('demo.ui.result');
    const started = await result.wait((m) => /启动 start 32010200000003 \/ 1: ✔/.test(m.payload), 10_000, 'start accepted');
    should(started.payload).match(/accepted/);
    await result.wait((m) => /charging 32010200000003 \/ 1/.test(m.payload), 10_000, 'charging confirmed');
    await table([gun], (r) => r.state === 'charging' && r.powerKw > 0, 'AC gun charging');
    ex.press('demo.ui.stop', { topic: 'stop', payload: 'stop' });
    await result.wait((m) => /停机 stop 32010200000003 \/ 1: ✔/.test(m.payload), 10_000, 'stop accepted');
  });

  it('the schedule plugs in, starts and charges every free gun; the chart gets power per gun', async () => {
    const others = GUNS.slice(0, 3);
    const plan = flowContext().get('plan') ?? {};
    for (const k of others) plan[k] = { phase: 'free', until: 0 };
    flowContext().set('plan', plan);
    ex.trigger('demo.tick');
    await table(others, (r) => r.state === 'idle-plugged', 'cars plugged in');
    ex.trigger('demo.tick');
    await table(others, (r) => r.state === 'charging' && r.powerKw > 0, 'three guns charging');
    const chart = ex.inbox('demo.ui.chart');
    for (const series of ['0001 / 1', '0001 / 2', '0002 / 1']) await chart.wait((m) => m.topic === series && m.payload > 0, 10_000, `power on ${series}`);
  });

  it('when a session is due to end it is stopped, its record stored in SQLite and only then confirmed to the pile; the records table shows it', async () => {
    const key = '32010200000002/1';
    // The session's end time has come (the schedule picks 2–6 minutes when it sees the gun charging).
    const plan = flowContext().get('plan');
    plan[key] = { phase: 'charging', until: 0 };
    flowContext().set('plan', plan);
    ex.trigger('demo.tick');

    const frames = ex.inbox('demo.pileframes');
    const sent = await frames.wait((m) => m.topic === 'ykc-pile/32010200000002/record' && m.payload.event === 'sent', 10_000, 'record sent by the pile');
    const tradeNo = sent.payload.tradeNo as string;
    await frames.wait((m) => m.topic === 'ykc-pile/32010200000002/record' && m.payload.event === 'confirmed' && m.payload.tradeNo === tradeNo, 10_000, 'record confirmed to the pile');
    type Stored = { trade_no: string; pile_no: string; energy_units: number; audit_ok: number; start_time: string; end_time: string; stored_at: string; record: string };
    const stored = await query<Stored>(ex.dbFile, `SELECT trade_no, pile_no, energy_units, audit_ok, start_time, end_time, stored_at, record FROM ykc_records WHERE trade_no = '${tradeNo}'`);
    should(stored).have.length(1);
    should(stored[0]).match({ pile_no: '32010200000002', audit_ok: 1 });
    should(stored[0].energy_units).be.above(0);
    // Times that are instants carry their zone: the pile's wall time in the gateway's zone (+08:00), the store time too.
    const rec = JSON.parse(stored[0].record) as { startTime: string; endTime: string };
    should(rec.endTime).match(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}/);
    should(stored[0].start_time).equal(rec.startTime.replace(' ', 'T') + '+08:00');
    should(stored[0].end_time).equal(rec.endTime.replace(' ', 'T') + '+08:00');
    should(stored[0].stored_at).match(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}\+08:00$/);
    should(Math.abs(Date.parse(stored[0].stored_at) - Date.now())).be.below(5 * 60_000);
    const shown = await ex.inbox('demo.ui.records').wait((m) => (m.payload as Msg[]).some((r) => r['交易流水号 Trade number'] === tradeNo), 10_000, 'record in the table');
    should(shown.payload[0]['核对 Audit']).equal('✔');
    should(shown.payload[0]['结束 End']).equal(stored[0].end_time);

    // The car leaves on the next tick.
    ex.trigger('demo.tick');
    await table([key], (r) => r.state === 'idle-unplugged', 'car unplugged');
  });

  it('orders view: the open orders with state and age, and the active alarms (ykc orders, snapshot every 2 s)', async () => {
    type OrderRow = Record<string, string | number>;
    const orders = ex.inbox('demo.ui.orders');
    const charging = await orders.wait((m) => (m.payload as OrderRow[]).some((r) => r['状态 State'] === '充电中 charging'), 10_000, 'a charging order listed');
    const row = (charging.payload as OrderRow[]).find((r) => r['状态 State'] === '充电中 charging')!;
    should(PILES).containEql(row['桩 Pile']);
    should(String(row['时长 Age (min:s)'])).match(/^\d+:\d{2}$/);
    should(String(row['交易流水号 Trade number'])).match(/^\d{32}$/);
    should(row['启动 Start']).equal('远程 remote');
    // No order is stuck in the demo: the alarm table is there, empty.
    should((await ex.inbox('demo.ui.alarms').wait(() => true, 5000, 'alarm table')).payload).eql([]);
  });

  it('commands only its own piles (DEMO_PILES): a foreign pile on the same gateway never gets a start (0x34) or stop (0x36)', async () => {
    should(readExample('demo.json').find((n) => n.type === 'tab')!.env).containDeep([{ name: 'DEMO_PILES', value: PILES.join(',') }]);
    const foreign = await ScriptedPile.connect(ex.ykcPort);
    try {
      foreign.write(foreignLogin());
      should((await foreign.next(0x02, () => true, 10_000)).body.result).equal(0);
      foreign.write(foreignRealtime(1, true, '0200'));
      foreign.write(foreignRealtime(2, false, '0300'));
      // The dashboard shows it (a real pile is visible) …
      await table([`${FOREIGN}/1`, `${FOREIGN}/2`], (r) => r.online && (r.gun === 1 ? r.state === 'charging' : r.state === 'idle-plugged'), 'foreign pile in the table');

      // … and the schedule's worst case for it: gun 1's session due to end, gun 2 plugged and waiting for a start.
      // One of the demo's own guns is due to stop in the same tick, so the tick demonstrably commands.
      const own = '32010200000001/1';
      await table([own], (r) => r.state === 'charging', 'own gun charging');
      const plan = flowContext().get('plan');
      plan[`${FOREIGN}/1`] = { phase: 'charging', until: 0 };
      plan[`${FOREIGN}/2`] = { phase: 'arriving', at: Date.now() };
      plan[own] = { phase: 'charging', until: 0 };
      flowContext().set('plan', plan);
      ex.trigger('demo.tick');
      const result = ex.inbox('demo.ui.result');
      await result.wait((m) => /停机 stop 32010200000001 \/ 1: ✔/.test(m.payload), 10_000, 'own gun stopped');
      ex.trigger('demo.tick');

      // The dashboard's buttons with the foreign gun picked (a list edited to offer it) do nothing either.
      ex.press('demo.ui.gun', { topic: 'gun', payload: `${FOREIGN}/2` });
      ex.press('demo.ui.start', { topic: 'start', payload: 'start' });
      ex.press('demo.ui.gun', { topic: 'gun', payload: `${FOREIGN}/1` });
      ex.press('demo.ui.stop', { topic: 'stop', payload: 'stop' });

      // A round trip on the foreign connection after all that: anything the demo sent it has arrived by now.
      await new Promise((r) => setTimeout(r, 500));
      foreign.write(rawFrame(0x03, FOREIGN + '0100', '0400'));
      await foreign.next(0x04, () => true, 10_000);
      const commands = foreign.raw.filter((f) => f[5] === 0x34 || f[5] === 0x36).map((f) => f.toString('hex'));
      should(commands).eql([], 'the demo commanded a pile that is not its own');
      should(result.msgs.map((m) => String(m.payload)).filter((t) => t.includes(FOREIGN))).eql([]);
    } finally {
      foreign.close();
    }
  });
});
