/**
 * ykc-orders in a real Node-RED runtime (node-red-node-test-helper) with a real ykc-server and the
 * virtual pile over TCP: state msgs, alarms from fault injection, commands (snapshot, close, ack),
 * ykc-billing's audit wired in, bad input to Catch, and a runtime restart in the middle of an order
 * (same user directory, same port) that loses nothing.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import should from 'should';
import helper = require('node-red-node-test-helper');
import type { Node } from 'node-red';
import type { YkcServer } from '../../src/gateway';
import type { YkcServerNode } from '../../nodes/shared/server-node';
import { VirtualPile } from '../../src/simulator';
import { checkEditorConventions } from '../support/editor';
import { REPO_ROOT } from '../support/repo';
import { sampleTariff } from '../simulator/platform';
import { Collector } from './commands-harness';

/* eslint-disable @typescript-eslint/no-require-imports */
const serverNode = require('../../nodes/ykc-server');
const inNode = require('../../nodes/ykc-in');
const billingNode = require('../../nodes/ykc-billing');
const ordersNode = require('../../nodes/ykc-orders');
/* eslint-enable @typescript-eslint/no-require-imports */

helper.init(require.resolve('node-red'));

type Msg = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const PILE = '32010300000201';
const TARIFF = JSON.stringify(sampleTariff('0100').toBody());

function flow(port: number, extra: Record<string, unknown> = {}) {
  return [
    { id: 't1', type: 'tab', label: 'orders' },
    { id: 's1', type: 'ykc-server', host: '127.0.0.1', port, autoTimeSync: false, recordConfirm: 'at-once', tariff: TARIFF },
    {
      id: 'o1', z: 't1', type: 'ykc-orders', server: 's1', startNotConfirmed: 1.5, realtimeSilent: 2, offlineWhileCharging: 0, recordMissing: 1.5,
      recordUnconfirmed: 60, recordUnconfirmedResends: 2, ...extra, wires: [['st'], ['al'], ['sn']],
    },
    { id: 'st', z: 't1', type: 'helper' },
    { id: 'al', z: 't1', type: 'helper' },
    { id: 'sn', z: 't1', type: 'helper' },
    // The records, billed and audited, go to the watchdog's input.
    { id: 'in1', z: 't1', type: 'ykc-in', server: 's1', groups: ['records'], wires: [['b1']] },
    { id: 'b1', z: 't1', type: 'ykc-billing', server: 's1', wires: [['o1'], ['o1']] },
    { id: 'c1', z: 't1', type: 'catch', scope: ['o1'], uncaught: false, wires: [['ca']] },
    { id: 'ca', z: 't1', type: 'helper' },
  ];
}

interface Runtime {
  gw: YkcServer;
  port: number;
  states: Collector;
  alarms: Collector;
  snaps: Collector;
  caught: Collector;
  send(m: Msg): void;
}

async function start(port = 0, extra: Record<string, unknown> = {}): Promise<Runtime> {
  await helper.load([serverNode, inNode, billingNode, ordersNode], flow(port, extra));
  const s = helper.getNode('s1') as unknown as YkcServerNode;
  await s.ready;
  const o = helper.getNode('o1') as Node & { receive(m: Msg): void };
  return {
    gw: s.gateway!,
    port: s.port()!,
    states: new Collector(helper.getNode('st')),
    alarms: new Collector(helper.getNode('al')),
    snaps: new Collector(helper.getNode('sn')),
    caught: new Collector(helper.getNode('ca')),
    send: (m) => o.receive(m),
  };
}

/** Messages until one matches (they are all kept in the collector). */
async function until(c: Collector, pred: (m: Msg) => boolean, what: string, timeoutMs = 8000): Promise<Msg> {
  const end = Date.now() + timeoutMs;
  for (const m of c.msgs) if (pred(m)) return m;
  for (;;) {
    const left = end - Date.now();
    if (left <= 0) throw new Error(`no ${what}; got ${JSON.stringify(c.msgs.map((m) => m.topic))}`);
    const m = await c.next(left, what).catch(() => null);
    if (m && pred(m)) return m;
  }
}

let tradeSeq = 0;
const trade = () => `${PILE}01${String(Date.now() % 1e12).padStart(12, '0')}${String(++tradeSeq).padStart(4, '0')}`;

describe('nodes: ykc-orders', function () {
  this.timeout(30_000);
  let userDir: string;
  const piles: VirtualPile[] = [];

  async function pile(port: number, faults = {}): Promise<VirtualPile> {
    const p = new VirtualPile({ port, pileNo: PILE, guns: 2, speed: 100, seed: 3, faults });
    piles.push(p);
    const model = new Promise<void>((r) => p.once('tariff', () => r()));
    p.connect();
    await p.waitOnline(8000);
    await model;
    return p;
  }

  async function remoteStart(rt: Runtime, p: VirtualPile, gunNo: number): Promise<string> {
    const tradeNo = trade();
    p.plug(gunNo, { batteryKwh: 200, soc: 10 });
    const r = await rt.gw.request(PILE, { type: 0x34, body: { tradeNo, pileNo: PILE, gunNo, logicalCardNo: '1', physicalCardNo: '1', balance: 500 } }, { timeoutMs: 5000 });
    should(r?.body.result).equal(1);
    return tradeNo;
  }

  beforeEach(() => {
    userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ykc-orders-node-'));
    helper.settings({ userDir });
  });
  afterEach(async () => {
    await Promise.all(piles.splice(0).map((p) => p.close()));
    await helper.unload();
    helper.settings({});
    fs.rmSync(userDir, { recursive: true, force: true });
  });

  it('state msgs for a whole order, an alarm raised and cleared, snapshot, close by hand, bad input to Catch', async () => {
    const rt = await start();
    const p = await pile(rt.port);
    const t = await remoteStart(rt, p, 1);
    const charging = await until(rt.states, (m) => m.payload.tradeNo === t && m.payload.state === 'charging', 'charging');
    should(charging.topic).equal(`ykc/${PILE}/order/charging`);
    should(charging.ykc).eql({ pileNo: PILE, gunNo: 1, tradeNo: t });
    should(charging.payload.startedAt).match(/\+08:00$/);

    rt.send({ topic: 'snapshot' });
    const snap = (await rt.snaps.next()).payload;
    should(snap.orders.map((o: Msg) => [o.tradeNo, o.state])).eql([[t, 'charging']]);
    should(snap.counts.open).equal(1);

    // realtimeSilent from the pile's silence, cleared when it talks again.
    p.setFaults({ silence: true });
    const up = await until(rt.alarms, (m) => m.payload.code === 'realtimeSilent' && m.payload.active, 'realtimeSilent raised');
    should(up.topic).equal(`ykc/${PILE}/alarm/realtimeSilent`);
    should(up.payload).containDeep({ severity: 'minor', pileNo: PILE, gunNo: 1, tradeNo: t, acknowledged: false });
    should(up.payload.text.zh).match(/未收到实时数据/);
    rt.send({ topic: 'ack', payload: { code: 'realtimeSilent', tradeNo: t } });
    const acked = await until(rt.alarms, (m) => m.payload.code === 'realtimeSilent' && m.payload.acknowledged, 'acknowledged');
    should(acked.payload.active).be.true('a time-based alarm stays until its condition ends');
    p.setFaults({ silence: false });
    const down = await until(rt.alarms, (m) => m.payload.code === 'realtimeSilent' && !m.payload.active, 'realtimeSilent cleared');
    should(down.payload.clearReason).equal('realtime data again');

    rt.send({ topic: 'close', payload: { tradeNo: t, reason: 'site check' } });
    const closed = await until(rt.states, (m) => m.payload.tradeNo === t && m.payload.state === 'closed', 'closed');
    should(closed.payload.closeReason).equal('manual: site check');

    rt.send({ topic: 'close', payload: { tradeNo: t } });
    should((await rt.caught.next()).error.code).equal('YKC_INPUT');
    rt.send({ topic: 'ack', payload: { code: 'nonsense', tradeNo: t } });
    should((await rt.caught.next()).error.code).equal('YKC_INPUT');
    rt.send({ topic: 'what', payload: 1 });
    should((await rt.caught.next()).error.code).equal('YKC_INPUT');
  });

  it('wired after ykc-billing: a record whose figures do not add up (meterJump) raises meterAnomaly and auditFailed', async () => {
    const rt = await start();
    const p = await pile(rt.port, { meterJump: 800_000 });
    const t = await remoteStart(rt, p, 2);
    await until(rt.states, (m) => m.payload.tradeNo === t && m.payload.state === 'charging', 'charging');
    await new Promise((r) => setTimeout(r, 300));
    await rt.gw.request(PILE, { type: 0x36, body: { pileNo: PILE, gunNo: 2 } }, { timeoutMs: 5000 });
    const meter = await until(rt.alarms, (m) => m.payload.code === 'meterAnomaly' && m.payload.active, 'meterAnomaly');
    should(meter.payload.tradeNo).equal(t);
    const audit = await until(rt.alarms, (m) => m.payload.code === 'auditFailed' && m.payload.active, 'auditFailed');
    should(audit.payload).containDeep({ pileNo: PILE, gunNo: 2, tradeNo: t, severity: 'major' });
    rt.send({ topic: 'ack', payload: { code: 'auditFailed', tradeNo: t } });
    const cleared = await until(rt.alarms, (m) => m.payload.code === 'auditFailed' && !m.payload.active, 'auditFailed cleared');
    should(cleared.payload.clearReason).equal('acknowledged');
  });

  it('a Node-RED restart in the middle of a charge loses nothing: the order continues when the pile comes back', async () => {
    const a = await start();
    const p = await pile(a.port);
    const t = await remoteStart(a, p, 1);
    const before = await until(a.states, (m) => m.payload.tradeNo === t && m.payload.state === 'charging', 'charging');
    await helper.unload(); // the runtime stops: gateway closed, the pile loses its link but keeps charging
    const journal = path.join(userDir, 'ykc', 'orders-o1.jsonl');
    should(fs.existsSync(journal)).be.true();

    const b = await start(a.port);
    b.send({ topic: 'snapshot' });
    const snap = (await b.snaps.next()).payload;
    should(snap.orders.map((o: Msg) => [o.tradeNo, o.state, o.startedAt])).eql([[t, 'charging', before.payload.startedAt]]);
    // The pile reconnects to the new runtime on the same port, still charging the same order.
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('pile did not come back')), 10_000);
      const check = () => (b.gw.isOnline(PILE) ? (clearTimeout(timer), resolve()) : setTimeout(check, 50));
      check();
    });
    await b.gw.request(PILE, { type: 0x36, body: { pileNo: PILE, gunNo: 1 } }, { timeoutMs: 5000 });
    const closed = await until(b.states, (m) => m.payload.tradeNo === t && m.payload.state === 'closed', 'closed after restart');
    should(closed.payload.closeReason).equal('confirmed');
    should(closed.payload.requestedAt).equal(before.payload.requestedAt);
    should(closed.payload.record.totalEnergy).be.above(before.payload.realtime.energy);
    should(b.alarms.msgs.filter((m) => m.payload.code !== 'offlineWhileCharging')).eql([]);
  });

  it('a corrupt journal in the user directory: YKC_STORE reaches Catch, the file is set aside, the readable order kept', async () => {
    const dir = path.join(userDir, 'ykc');
    fs.mkdirSync(dir, { recursive: true });
    const t = `${PILE}01${'0'.repeat(15)}7`;
    const order = { tradeNo: t, pileNo: PILE, gunNo: 1, state: 'charging', origin: 'card', at: [0, 1, 1, 0, 0, 0, 0, 0], updatedAt: 1, rtAt: 0, rtEnergy: 0, rtAmount: 0, stopReason: null, record: null, resends: 0, recordResult: null, closeReason: null, reused: false };
    fs.writeFileSync(path.join(dir, 'orders-o1.jsonl'), `${JSON.stringify({ o: order })}\nnot json at all\n`);
    const rt = await start();
    const caught = await rt.caught.next(5000, 'YKC_STORE');
    should(caught.error.code).equal('YKC_STORE');
    should(caught.payload.badLines).equal(1);
    should(fs.readdirSync(dir).some((f) => f.startsWith('orders-o1.jsonl.corrupt-'))).be.true();
    rt.send({ topic: 'snapshot' });
    should((await rt.snaps.next()).payload.orders.map((o: Msg) => [o.tradeNo, o.state, o.origin])).eql([[t, 'charging', 'card']]);
  });

  describe('editor files', () => {
    const read = (rel: string) => fs.readFileSync(path.join(REPO_ROOT, rel), 'utf8');
    const keys = (o: unknown, prefix = ''): string[] =>
      o !== null && typeof o === 'object' ? Object.entries(o as Record<string, unknown>).flatMap(([k, v]) => keys(v, prefix ? `${prefix}.${k}` : k)) : [prefix];

    it('catalogues in en-US and zh-CN have the same keys; the help has the sections in order in both', () => {
      const en = JSON.parse(read('nodes/locales/en-US/ykc-orders.json'));
      const zh = JSON.parse(read('nodes/locales/zh-CN/ykc-orders.json'));
      keys(zh).filter((k) => !/\.errors\.YKC_/.test(k)).sort().should.eql(keys(en).sort());
      for (const lang of ['en-US', 'zh-CN']) {
        const help = read(`nodes/locales/${lang}/ykc-orders.html`);
        help.should.containEql('data-help-name="ykc-orders"');
        const heads = [...help.matchAll(/<h3>([^<]+)<\/h3>/g)].map((m) => m[1]);
        heads.should.eql(lang === 'en-US' ? ['Properties', 'Inputs', 'Outputs', 'Details', 'References'] : ['属性', '输入', '输出', '详细', '参考']);
      }
    });

    it('the editor registers the type literally, in the ykc category with the pack colour and its icon; package.json lists it', () => {
      checkEditorConventions('ykc-orders');
      should(JSON.parse(read('package.json'))['node-red'].nodes['ykc-orders']).equal('dist/nodes/ykc-orders.js');
    });
  });
});
