/**
 * Tariff in force through a real Node-RED runtime (node-red-node-test-helper): ykc-server (persist on,
 * user directory in a temp dir) with T1 as its tariff, ykc-tariff pushing T2 and T3, ykc-in → ykc-billing
 * on the gateway's tariff, and a scripted pile over TCP writing hand-built frames. A session started
 * under T1 is audited against T1 after a mid-session T2 push the pile accepted (the finding of issue
 * 11: it was audited against T2 and flagged), a refused push changes nothing, and a Node-RED restart
 * keeps the history.
 */
import * as fs from 'fs';
import * as path from 'path';
import should from 'should';
import helper = require('node-red-node-test-helper');
import type { Node } from 'node-red';
import type { YkcServerNode } from '../../nodes/shared/server-node';
import type { YkcServer } from '../../src/gateway';
import { Tariff } from '../../src/billing';
import { decodeFrame } from '../../src/protocol';
import { capturedModel } from '../billing/helpers';
import { ScriptedPile } from '../support/pile-client';
import { rawFrame } from '../support/raw';
import { loadVectors } from '../support/repo';
import { Collector, Msg, persistRig, realtimeBody, seqOf, serverNode } from './commands-harness';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const tariffNode = require('../../nodes/ykc-tariff');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const inNode = require('../../nodes/ykc-in');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const billingNode = require('../../nodes/ykc-billing');

const VECTOR = loadVectors().find((v) => v.type === '0x3B' && v.kind === 'captured (test input)')!;
const PILE = '18220000000155';
const TRADE = '18220000000155021673797553635328';
/** The real captured record (3.0067 kWh in the valley at 0.89000 yuan/kWh), as the pile sends it. */
const record = (seqHex: string) => rawFrame(0x3b, VECTOR.hex.slice(12, -4), seqHex);

/** The captured pile's model, in ykc-tariff's friendlier shape, with a chosen valley electricity price. */
const model = capturedModel;
/** T1: what the pile charged (0.50 + 0.39). T2: 0.80 + 0.39, pushed mid-session. T3: refused by the pile. */
const T1 = Tariff.fromInput(model(0.5, '0062'));

function flow(port: number): helper.TestFlowsItem<any>[] { // eslint-disable-line @typescript-eslint/no-explicit-any
  return [
    { id: 't1', type: 'tab', label: 'tariff in force' },
    // persist is left at its default (on): the history goes to <userDir>/ykc/tariffs-s1.jsonl.
    { id: 's1', type: 'ykc-server', host: '127.0.0.1', port, autoTimeSync: false, recordConfirm: 'after-store', tariff: JSON.stringify(T1.toBody()) },
    { id: 'tf', z: 't1', type: 'ykc-tariff', server: 's1', pile: PILE, pileType: 'str', modelCode: '0001', wires: [['acc'], ['ref'], ['none']] },
    { id: 'acc', z: 't1', type: 'helper' },
    { id: 'ref', z: 't1', type: 'helper' },
    { id: 'none', z: 't1', type: 'helper' },
    { id: 'in1', z: 't1', type: 'ykc-in', server: 's1', groups: ['records'], wires: [['b1']] },
    { id: 'b1', z: 't1', type: 'ykc-billing', server: 's1', wires: [['ok'], ['bad']] },
    { id: 'ok', z: 't1', type: 'helper' },
    { id: 'bad', z: 't1', type: 'helper' },
    { id: 'c1', z: 't1', type: 'catch', scope: null, uncaught: false, wires: [['hc']] },
    { id: 'hc', z: 't1', type: 'helper' },
  ];
}

interface Runtime {
  gw: YkcServer;
  port: number;
  accepted: Collector;
  refused: Collector;
  ok: Collector;
  bad: Collector;
  caught: Collector;
  push(payload: Msg): void;
}

async function start(port = 0): Promise<Runtime> {
  await helper.load([serverNode, tariffNode, inNode, billingNode], flow(port));
  const s = helper.getNode('s1') as unknown as YkcServerNode;
  await s.ready;
  const tf = helper.getNode('tf') as Node & { receive(m: Msg): void };
  const c = (id: string) => new Collector(helper.getNode(id));
  return { gw: s.gateway!, port: s.port()!, accepted: c('acc'), refused: c('ref'), ok: c('ok'), bad: c('bad'), caught: c('hc'), push: (payload) => tf.receive({ payload }) };
}

describe('nodes: tariff in force (ykc-tariff push mid-session, ykc-billing on the gateway)', function () {
  this.timeout(20_000);
  const { userDir, pileOn } = persistRig('ykc-tariff-in-force-', PILE);

  /** A heartbeat round trip: everything the pile sent before has been handled by then. */
  async function settle(p: ScriptedPile, seqHex: string): Promise<void> {
    p.write(rawFrame(0x03, `${PILE}0100`, seqHex));
    await p.next(0x04);
  }


  it('session under T1, T2 pushed and accepted mid-session, T3 refused: the record is audited ok against T1; the same after a restart', async () => {
    const a = await start();
    const p = await pileOn(a.port);
    p.write(rawFrame(0x09, PILE, '0200')); // the pile asks for its model: T1
    should((await p.next(0x0a)).body.modelCode).equal('0062');
    p.write(rawFrame(0x13, realtimeBody(TRADE, PILE, 1, 3), '0300')); // the session is running
    await settle(p, '0400');

    a.push(model(0.8, '0063'));
    const f2 = await p.next(0x58);
    p.write(rawFrame(0x57, `${PILE}01`, seqOf(f2)));
    should((await a.accepted.next()).ykc).containEql({ pileNo: PILE, outcome: 'accepted', modelCode: '0063' });
    a.push(model(0.9, '0064'));
    const f3 = await p.next(0x58);
    p.write(rawFrame(0x57, `${PILE}00`, seqOf(f3)));
    should((await a.refused.next()).ykc).containEql({ outcome: 'refused', modelCode: '0064' });
    should(a.gw.tariffFor(PILE)!.modelCode).equal('0063'); // the gateway's tariff for the pile is T2 now
    should(a.gw.tariffHistory.entries(PILE).map((e) => [e.tariff.modelCode, e.via])).eql([
      ['0062', '0x0A'],
      ['0063', '0x58'],
    ]);

    // The record arrives after the push: judged against T1, the model the session started under.
    p.write(record('8001'));
    const m = await a.ok.next(3000, 'billing ok');
    const audit = m.payload.audit;
    should(audit).containEql({ ok: true, mismatches: [], inconsistencies: [] });
    should(audit.tariff).containEql({ modelCode: '0062', source: 'history', via: '0x0A', sessionStartBasis: 'firstFrame' });
    should(audit.tariff.since).be.belowOrEqual(audit.tariff.sessionStart);
    should(m.payload.bill).containEql({ modelCode: '0062', tariffSource: 'server', totalAmount: 2.6759 });
    should(a.bad.count).equal(0);

    // Node-RED restarts before the flow stored the record; the pile resends it after reconnecting.
    await helper.unload();
    await p.whenClosed();
    should(fs.existsSync(path.join(userDir(), 'ykc', 'tariffs-s1.jsonl'))).be.true();
    const b = await start(a.port);
    const p2 = await pileOn(b.port);
    p2.write(record('8101'));
    const again = await b.ok.next(3000, 'billing ok after restart');
    should(again.payload.audit.tariff).containEql({ modelCode: '0062', source: 'history', since: audit.tariff.since, sessionStart: audit.tariff.sessionStart });
    should(b.gw.tariffInForce(PILE, Date.now())!.tariff.modelCode).equal('0063');
    should(b.caught.count).equal(0);
  });

  it('explicit msg.tariff still wins over the history', async () => {
    const a = await start();
    const p = await pileOn(a.port);
    p.write(rawFrame(0x09, PILE, '0200'));
    await p.next(0x0a);
    const b1 = helper.getNode('b1') as Node & { receive(m: Msg): void };
    const t2 = Tariff.fromInput(model(0.8, '0063'));
    b1.receive({ payload: decodeFrame(VECTOR.hex).body, tariff: t2.toBody() });
    const m = await a.bad.next(3000, 'billing failed');
    should(m.payload.audit.tariff).eql({ modelCode: '0063', since: null, source: 'msg' });
    should(m.payload.audit.mismatches.map((x: Msg) => x.field)).eql(['valleyPrice', 'valleyAmount', 'totalAmount']);
  });

  it('a corrupt history file: YKC_STORE reaches a Catch node, the gateway listens and piles are served', async () => {
    fs.mkdirSync(path.join(userDir(), 'ykc'));
    fs.writeFileSync(path.join(userDir(), 'ykc', 'tariffs-s1.jsonl'), '{"pile":"18220000000155","since":1,"via":"0x58","tariff":{"modelCode"\n');
    const a = await start();
    const e = await a.caught.next(3000, 'YKC_STORE');
    should(e.error.message).containEql('tariffs-s1.jsonl');
    should(fs.readdirSync(path.join(userDir(), 'ykc')).some((f) => f.startsWith('tariffs-s1.jsonl.corrupt-'))).be.true();
    const p = await pileOn(a.port);
    await settle(p, '0200');
  });
});
