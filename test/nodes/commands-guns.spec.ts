/**
 * Two-gun piles: gun commands queue per (pile, gun, frame type). A start waiting for a late plug on
 * gun 2 (up to 60 s) delays neither a start on gun 1 nor a stop on gun 2. A scripted two-gun pile
 * over a real socket; ykc-start and ykc-stop in a real Node-RED runtime.
 */
import should from 'should';
import type { Node } from 'node-red';
import type { YkcServerNode } from '../../nodes/shared/server-node';
import { laneDepth, laneKey } from '../../nodes/shared/command';
import { ScriptedPile } from '../support/pile-client';
import { rawFrame } from '../support/raw';
import { Collector, Flow, helper, loginFrame, PILE, seqOf, serverNode } from './commands-harness';

/* eslint-disable @typescript-eslint/no-require-imports */
const startNode = require('../../nodes/ykc-start');
const stopNode = require('../../nodes/ykc-stop');
/* eslint-enable @typescript-eslint/no-require-imports */

/** 0x33 body: trade, pile, gun, result, reason. */
const reply33 = (trade: string, gun: number, result: number, reason: number) =>
  `${trade}${PILE}${String(gun).padStart(2, '0')}${result.toString(16).padStart(2, '0')}${reason.toString(16).padStart(2, '0')}`;

const receive = (id: string, msg: Record<string, unknown>) => (helper.getNode(id) as unknown as { receive(m: unknown): void }).receive(msg);

describe('nodes: two guns of one pile (command lanes)', function () {
  this.timeout(20_000);
  let pile: ScriptedPile | null = null;
  afterEach(async () => {
    pile?.close();
    pile = null;
    await helper.unload();
  });

  async function load(): Promise<{ gw: YkcServerNode['gateway']; out: Record<string, Collector> }> {
    const flow: Flow = [
      { id: 't1', type: 'tab', label: 'guns' },
      { id: 's1', type: 'ykc-server', host: '127.0.0.1', port: 0, autoTimeSync: false, persist: false },
      // latePlugWait 60 s (the spec's value): the old per-pile lane would hold gun 1 for that long.
      { id: 'start', z: 't1', type: 'ykc-start', server: 's1', pile: PILE, pileType: 'str', balance: '50.00', latePlugWait: '60', confirm: false, wires: [['ok'], ['no'], ['fail'], ['follow']] },
      { id: 'stop', z: 't1', type: 'ykc-stop', server: 's1', pile: PILE, pileType: 'str', wires: [['stopped'], ['stopno'], ['stopfail']] },
      ...['ok', 'no', 'fail', 'follow', 'stopped', 'stopno', 'stopfail'].map((id) => ({ id, z: 't1', type: 'helper' })),
    ];
    await helper.load([serverNode, startNode, stopNode], flow);
    const s = helper.getNode('s1') as unknown as YkcServerNode;
    await s.ready;
    pile = await ScriptedPile.connect(s.port()!);
    pile.write(loginFrame(PILE));
    should((await pile.next(0x02)).body.result).equal(0);
    const out: Record<string, Collector> = {};
    for (const id of ['ok', 'no', 'fail', 'follow', 'stopped']) out[id] = new Collector(helper.getNode(id) as Node);
    return { gw: s.gateway, out };
  }

  it('lane keys: gun commands per pile, gun and type; pile-wide ones per pile and type', () => {
    should(laneKey(PILE, { laneType: 0x34, ids: { gunNo: 2 } })).equal(`${PILE}/gun2/0x34`);
    should(laneKey(PILE, { laneType: 0x36, ids: { gunNo: 1 } })).equal(`${PILE}/gun1/0x36`);
    should(laneKey(PILE, { laneType: 0x58, ids: { modelCode: '0001' } })).equal(`${PILE}/0x58`);
    // 0x41 does not name the gun: two balance updates must not be in flight together.
    should(laneKey(PILE, { laneType: 0x42, ids: { gunNo: 1 } })).equal(`${PILE}/0x42`);
  });

  it('a late-plug wait on gun 2 does not delay a start on gun 1, nor a stop on gun 2', async () => {
    const { gw, out } = await load();
    const p = pile!;
    receive('start', { payload: { gunNo: 2 } });
    const f2 = await p.next(0x34, undefined, 5000);
    should(f2.body.gunNo).equal(2);
    const trade2 = String(f2.body.tradeNo);
    p.write(rawFrame(0x33, reply33(trade2, 2, 0, 5), seqOf(f2)));
    should((await out.follow.next(5000, 'waitingForPlug')).ykc.event).equal('waitingForPlug');
    should(laneDepth(gw!, `${PILE}/gun2/0x34`)).equal(1);

    // Gun 1 starts now, not 60 s later.
    const sentAt = Date.now();
    receive('start', { payload: { gunNo: 1 } });
    const f1 = await p.next(0x34, undefined, 5000);
    should(f1.body.gunNo).equal(1);
    should(Date.now() - sentAt).be.below(5000);
    p.write(rawFrame(0x33, reply33(String(f1.body.tradeNo), 1, 1, 0), seqOf(f1)));
    const ok1 = await out.ok.next(5000, 'gun 1 accepted');
    should(ok1.ykc).containEql({ outcome: 'accepted', gunNo: 1, tradeNo: f1.body.tradeNo });

    // A stop on gun 2 (the driver gave up) goes out while gun 2's start still waits.
    receive('stop', { payload: { gunNo: 2 } });
    const s2 = await p.next(0x36, undefined, 5000);
    should(s2.body.gunNo).equal(2);
    p.write(rawFrame(0x35, `${PILE}020100`, seqOf(s2)));
    should((await out.stopped.next(5000, 'gun 2 stopped')).ykc).containEql({ outcome: 'accepted', gunNo: 2 });

    // Gun 2's start is still pending; the plug comes late and its start then counts.
    should(laneDepth(gw!, `${PILE}/gun2/0x34`)).equal(1);
    should(out.ok.count).equal(1);
    p.write(rawFrame(0x33, reply33(trade2, 2, 1, 0), '0900'));
    const ok2 = await out.ok.next(5000, 'gun 2 accepted after the late plug');
    should(ok2.ykc).containEql({ outcome: 'accepted', gunNo: 2, tradeNo: trade2, latePlug: true });
    should(laneDepth(gw!, `${PILE}/gun2/0x34`)).equal(0);
  });

  it('two starts on the same gun still queue: the second goes out only after the first is answered', async () => {
    const { gw, out } = await load();
    const p = pile!;
    receive('start', { payload: { gunNo: 1 } });
    receive('start', { payload: { gunNo: 1 } });
    const first = await p.next(0x34, undefined, 5000);
    should(laneDepth(gw!, `${PILE}/gun1/0x34`)).equal(2);
    // Nothing else is on the wire until the first is answered.
    await new Promise((r) => setTimeout(r, 300));
    should(p.frames.filter((f) => f.type === 0x34)).have.length(0); // the first was taken by next()
    p.write(rawFrame(0x33, reply33(String(first.body.tradeNo), 1, 1, 0), seqOf(first)));
    await out.ok.next(5000);
    const second = await p.next(0x34, undefined, 5000);
    should(second.body.tradeNo).not.equal(first.body.tradeNo);
  });
});
