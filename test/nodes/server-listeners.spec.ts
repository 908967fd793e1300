/**
 * One gateway listener per event however many nodes use a ykc-server: 24 nodes on one server deploy
 * without MaxListenersExceededWarning, every ykc-in still gets every event, and nodes that close
 * leave no listener behind. Real runtime, a pile over a real socket.
 */
import { EventEmitter } from 'events';
import should from 'should';
import type { ServerEvents } from '../../src/gateway';
import type { YkcServerNode } from '../../nodes/shared/server-node';
import { GatewayEvents } from '../../nodes/shared/event-fan';
import { ScriptedPile } from '../support/pile-client';
import { Flow, helper, loginFrame, PILE } from './commands-harness';
import { eventually, Inbox } from '../examples/harness';

/* eslint-disable @typescript-eslint/no-require-imports */
const serverNode = require('../../nodes/ykc-server');
const inNode = require('../../nodes/ykc-in');
const startNode = require('../../nodes/ykc-start');
const ordersNode = require('../../nodes/ykc-orders');
/* eslint-enable @typescript-eslint/no-require-imports */

const N = 12;

describe('nodes: one gateway listener per event', function () {
  this.timeout(15_000);
  let pile: ScriptedPile | null = null;
  const warnings: Error[] = [];
  const onWarning = (w: Error) => warnings.push(w);
  before(() => process.on('warning', onWarning));
  after(() => process.off('warning', onWarning));
  afterEach(async () => {
    pile?.close();
    pile = null;
    await helper.unload();
  });

  it(`${N} ykc-in and ${N} ykc-start on one server: no MaxListenersExceededWarning, every ykc-in gets the login`, async () => {
    const flow: Flow = [
      { id: 't1', type: 'tab', label: 'many' },
      { id: 's1', type: 'ykc-server', host: '127.0.0.1', port: 0, autoTimeSync: false, persist: false },
      ...Array.from({ length: N }, (_, i) => [
        { id: `in${i}`, z: 't1', type: 'ykc-in', server: 's1', groups: 'session,problems,sent,gunState', wires: [[`h${i}`]] },
        { id: `h${i}`, z: 't1', type: 'helper' },
        { id: `st${i}`, z: 't1', type: 'ykc-start', server: 's1', pile: PILE, gun: 1, balance: '10', wires: [[], [], [], []] },
      ]).flat(),
      // ykc orders feeds its tracker through the same fan-out.
      ...[0, 1].map((i) => ({ id: `or${i}`, z: 't1', type: 'ykc-orders', server: 's1', persist: false, wires: [[], [], []] })),
    ];
    await helper.load([serverNode, inNode, startNode, ordersNode], flow);
    const s = helper.getNode('s1') as unknown as YkcServerNode;
    await s.ready;
    const gw = s.gateway!;
    for (const e of ['frame', 'online', 'offline', 'problem', 'sent', 'login', 'recordConfirmed'] as const) should(gw.listenerCount(e)).be.belowOrEqual(1, e);
    should(s.events!.count('frame')).equal(2 * N + 2);
    should(s.events!.count('offline')).equal(2 * N + 2 + 1); // the server's own status too
    should(s.events!.count('recordConfirmed')).equal(2);
    const inboxes = Array.from({ length: N }, (_, i) => new Inbox(helper.getNode(`h${i}`)));
    pile = await ScriptedPile.connect(s.port()!);
    pile.write(loginFrame(PILE));
    await pile.next(0x02);
    await Promise.all(inboxes.map((b) => b.wait((m) => m.topic === `ykc/${PILE}/login`, 5000, 'the login')));
    // 'sent' (login answer) reached them too: the gateway builds it because someone listens.
    await Promise.all(inboxes.map((b) => b.wait((m) => m.topic === `ykc/${PILE}/sent/loginReply`, 5000, 'the sent login answer')));
    should(warnings.filter((w) => w.name === 'MaxListenersExceededWarning')).eql([]);
  });

  it('closing nodes unsubscribes them; the last one removes the gateway listener (so "sent" is no longer built)', async () => {
    const flow: Flow = [
      { id: 't1', type: 'tab', label: 'one' },
      { id: 's1', type: 'ykc-server', host: '127.0.0.1', port: 0, autoTimeSync: false, persist: false },
      { id: 'in1', z: 't1', type: 'ykc-in', server: 's1', groups: 'sent', wires: [[]] },
    ];
    await helper.load([serverNode, inNode], flow);
    const s = helper.getNode('s1') as unknown as YkcServerNode;
    await s.ready;
    const gw = s.gateway!;
    const events = s.events!;
    should(gw.listenerCount('sent')).equal(1);
    await (helper.getNode('in1') as unknown as { close(removed: boolean): Promise<void> }).close(true);
    await eventually(() => events.count('sent') === 0, 2000, 'unsubscribed');
    should(gw.listenerCount('sent')).equal(0);
  });

  it('a subscriber that throws reaches the error handler; the others still get the event', () => {
    const src = new EventEmitter<ServerEvents>();
    const errors: unknown[] = [];
    const fan = new GatewayEvents(src, (e) => errors.push(e));
    const got: number[] = [];
    fan.on('close', () => got.push(1));
    fan.on('close', () => {
      throw new Error('boom');
    });
    const off3 = fan.on('close', () => got.push(3));
    src.emit('close');
    should(got).eql([1, 3]);
    should((errors[0] as Error).message).equal('boom');
    off3();
    src.emit('close');
    should(got).eql([1, 3, 1]);
    should(src.listenerCount('close')).equal(1);
  });
});
