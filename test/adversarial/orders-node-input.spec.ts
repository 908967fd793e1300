/**
 * Outside review of ykc-orders in a real Node-RED runtime (issue 14): a raw pile (docs/protocol.md only)
 * sends a record with an all-zero trade number whose prices do not match the tariff; ykc-in →
 * ykc-billing → ykc-orders must put auditFailed on that order (keyed pile + gun + start, docs/orders.md),
 * not on a shared "000…0" alarm; bad commands reach Catch with YKC_INPUT.
 */
import should from 'should';
import helper = require('node-red-node-test-helper');
import type { Node } from 'node-red';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { YkcServerNode } from '../../nodes/shared/server-node';
import { sampleTariff } from '../simulator/platform';
import { Collector } from '../nodes/commands-harness';
import { Firmware, firmware, ZERO_TRADE } from '../support/ykc-firmware';

/* eslint-disable @typescript-eslint/no-require-imports */
const serverNode = require('../../nodes/ykc-server');
const inNode = require('../../nodes/ykc-in');
const billingNode = require('../../nodes/ykc-billing');
const ordersNode = require('../../nodes/ykc-orders');
/* eslint-enable @typescript-eslint/no-require-imports */

helper.init(require.resolve('node-red'));
type Msg = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const PILE = '45040000000001';

describe('adversarial: ykc-orders node with an outside pile (zero trade numbers through ykc-billing, bad commands)', function () {
  this.timeout(30_000);
  let userDir: string;
  let fw: Firmware | null = null;
  beforeEach(() => {
    userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ykc-orders-adv-'));
    helper.settings({ userDir });
  });
  afterEach(async () => {
    fw?.pile.close();
    fw = null;
    await helper.unload();
    helper.settings({});
    fs.rmSync(userDir, { recursive: true, force: true });
  });

  async function until(c: Collector, pred: (m: Msg) => boolean, what: string): Promise<Msg> {
    const end = Date.now() + 10_000;
    for (const m of c.msgs) if (pred(m)) return m;
    for (;;) {
      const m = await c.next(Math.max(1, end - Date.now()), what);
      if (pred(m)) return m;
    }
  }

  it('auditFailed of a zero-trade record lands on its own order; ack by that key clears it; a 300-character close reason is YKC_INPUT', async () => {
    const flow: Array<Record<string, unknown>> = [
      { id: 't1', type: 'tab', label: 'orders' },
      { id: 's1', type: 'ykc-server', host: '127.0.0.1', port: 0, autoTimeSync: false, recordConfirm: 'at-once', tariff: JSON.stringify(sampleTariff('0100').toBody()) },
      { id: 'o1', z: 't1', type: 'ykc-orders', server: 's1', wires: [['st'], ['al'], []] },
      { id: 'st', z: 't1', type: 'helper' },
      { id: 'al', z: 't1', type: 'helper' },
      { id: 'in1', z: 't1', type: 'ykc-in', server: 's1', groups: ['records'], wires: [['b1']] },
      { id: 'b1', z: 't1', type: 'ykc-billing', server: 's1', wires: [['o1'], ['o1']] },
      { id: 'c1', z: 't1', type: 'catch', scope: ['o1'], uncaught: false, wires: [['ca']] },
      { id: 'ca', z: 't1', type: 'helper' },
    ];
    await helper.load([serverNode, inNode, billingNode, ordersNode], flow as Parameters<typeof helper.load>[1]);
    const s = helper.getNode('s1') as unknown as YkcServerNode;
    await s.ready;
    const states = new Collector(helper.getNode('st'));
    const alarms = new Collector(helper.getNode('al'));
    const caught = new Collector(helper.getNode('ca'));
    const o = helper.getNode('o1') as Node & { receive(m: Msg): void };
    fw = await firmware(s.port()!, PILE, 2);
    // 9.87654 yuan/kWh in every tier: not the gateway's tariff.
    fw.record(2, ZERO_TRADE, { start: [2026, 12, 4, 21, 15, 0], end: [2026, 12, 4, 21, 45, 0], meterStart: 0, meterEnd: 50_000, energy: 50_000, startType: 4, prices: [987_654, 987_654, 987_654, 987_654] });
    const key = `${PILE}02261204211500FFFF`;
    await until(states, (m) => m.payload.tradeNo === key && m.payload.state === 'closed', 'closed');
    const up = await until(alarms, (m) => m.payload.code === 'auditFailed' && m.payload.active, 'auditFailed');
    should(up.payload).containDeep({ tradeNo: key, pileNo: PILE, gunNo: 2, severity: 'major' });
    o.receive({ topic: 'ack', payload: { code: 'auditFailed', tradeNo: key } });
    const down = await until(alarms, (m) => m.payload.code === 'auditFailed' && !m.payload.active, 'cleared');
    should(down.payload.tradeNo).equal(key);

    o.receive({ topic: 'close', payload: { tradeNo: key, reason: 'x'.repeat(300) } });
    const err = await caught.next(5000, 'YKC_INPUT');
    should(err.error.code).equal('YKC_INPUT');
    should(err.error.message).match(/reason/);
  });

  it('two piles charging with one trade number: close by tradeNo alone is YKC_INPUT naming both piles; {pileNo, tradeNo} closes that pile\'s order only; a bad pileNo is YKC_INPUT', async () => {
    const flow: Array<Record<string, unknown>> = [
      { id: 't1', type: 'tab', label: 'orders' },
      { id: 's1', type: 'ykc-server', host: '127.0.0.1', port: 0, autoTimeSync: false, recordConfirm: 'at-once' },
      { id: 'o1', z: 't1', type: 'ykc-orders', server: 's1', realtimeSilent: 600, wires: [['st'], ['al'], []] },
      { id: 'st', z: 't1', type: 'helper' },
      { id: 'al', z: 't1', type: 'helper' },
      { id: 'c1', z: 't1', type: 'catch', scope: ['o1'], uncaught: false, wires: [['ca']] },
      { id: 'ca', z: 't1', type: 'helper' },
    ];
    await helper.load([serverNode, ordersNode], flow as Parameters<typeof helper.load>[1]);
    const s = helper.getNode('s1') as unknown as YkcServerNode;
    await s.ready;
    const states = new Collector(helper.getNode('st'));
    const caught = new Collector(helper.getNode('ca'));
    const o = helper.getNode('o1') as Node & { receive(m: Msg): void };
    const P2 = '45040000000002';
    const T = `${PILE}012612050800000009`;
    fw = await firmware(s.port()!, PILE, 2);
    const fw2 = await firmware(s.port()!, P2, 2);
    try {
      fw.realtime(1, T, { state: 3, energy: 100 });
      await until(states, (m) => m.payload.pileNo === PILE && m.payload.state === 'charging', 'A charging');
      fw2.realtime(1, T, { state: 3, energy: 100 });
      await until(states, (m) => m.payload.pileNo === P2 && m.payload.state === 'charging', 'B charging');
      o.receive({ topic: 'close', payload: { tradeNo: T, reason: 'which one?' } });
      const err = await caught.next(5000, 'ambiguous');
      should(err.error.code).equal('YKC_INPUT');
      should(err.error.message).containEql(PILE).and.containEql(P2);
      o.receive({ topic: 'close', payload: { pileNo: '123', tradeNo: T } });
      should((await caught.next(5000, 'bad pile')).error.message).match(/pileNo/);
      o.receive({ topic: 'close', payload: { pileNo: P2, tradeNo: T, reason: 'wrong pile' } });
      const closed = await until(states, (m) => m.payload.state === 'closed', 'closed');
      should(closed.payload).containDeep({ pileNo: P2, tradeNo: T, closeReason: 'manual: wrong pile' });
      should(closed.ykc).containDeep({ pileNo: P2, tradeNo: T });
      // The message the state output sent, turned into a command: msg.ykc names the pile.
      o.receive({ topic: 'close', payload: {}, ykc: { pileNo: PILE, tradeNo: T } });
      const closedA = await until(states, (m) => m.payload.state === 'closed' && m.payload.pileNo === PILE, 'A closed');
      should(closedA.payload.tradeNo).equal(T);
      should(states.msgs.filter((m) => m.payload.state === 'closed').length).equal(2);
    } finally {
      fw2.pile.close();
    }
  });
});
