/**
 * A ykc-server whose port is taken: it says why (status and one error, translated), retries with
 * backoff, and once the port is free it listens — the virtual pile and command nodes of the same
 * deploy then work without a redeploy. Real runtime, real sockets on 127.0.0.1.
 */
import * as net from 'net';
import should from 'should';
import type { Node } from 'node-red';
import type { SinonSpy } from 'sinon';
import type { YkcServerNode } from '../../nodes/shared/server-node';
import { ListenLoop, LISTEN_RETRY_FIRST_MS, LISTEN_RETRY_MAX_MS } from '../../nodes/shared/listen-retry';
import { eventually, helper, Inbox, Msg } from '../examples/harness';
import { freePort } from '../support/ports';
import { translating } from '../support/i18n';

/* eslint-disable @typescript-eslint/no-require-imports */
const serverNode = require('../../nodes/ykc-server');
const inNode = require('../../nodes/ykc-in');
const pileNode = require('../../nodes/ykc-pile');
const commandNode = require('../../nodes/ykc-command');
/* eslint-enable @typescript-eslint/no-require-imports */

const PILE = '32010200000901';
type Flow = helper.TestFlowsItem<any>[]; // eslint-disable-line @typescript-eslint/no-explicit-any

function statusTexts(n: Node): string[] {
  return (n.status as unknown as SinonSpy).args.map((a) => String((a[0] as { text?: unknown }).text ?? ''));
}

function listenOn(port: number): Promise<net.Server> {
  return new Promise((resolve, reject) => {
    const s = net.createServer((c) => c.destroy());
    s.once('error', reject);
    s.listen(port, '127.0.0.1', () => resolve(s));
  });
}

describe('nodes: ykc-server cannot listen', function () {
  this.timeout(30_000);
  let blocker: net.Server | null = null;
  afterEach(async () => {
    if (blocker) await new Promise((r) => blocker!.close(r));
    blocker = null;
    await helper.unload();
  });

  it('backs off 1 s, doubling, up to the named limit', () => {
    const d = [1, 2, 3, 4, 5, 6, 7, 20].map((n) => ListenLoop.delay(n));
    should(d).eql([1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000]);
    should(LISTEN_RETRY_FIRST_MS).equal(1000);
    should(LISTEN_RETRY_MAX_MS).equal(30000);
  });

  it('a busy port: says why once (zh-CN), retries, then serves the pile and commands without a redeploy', async () => {
    const port = await freePort();
    blocker = await listenOn(port);
    const flow: Flow = [
      { id: 't1', type: 'tab', label: 'ykc' },
      { id: 's1', type: 'ykc-server', host: '127.0.0.1', port, persist: false, recordConfirm: 'at-once' },
      { id: 'in1', z: 't1', type: 'ykc-in', server: 's1', wires: [[]] },
      { id: 'p1', z: 't1', type: 'ykc-pile', server: 's1', pileNo: PILE, pileType: 'DC', guns: 1, version: '1.5', speed: 60, autoConnect: true, wires: [[], []] },
      { id: 'cmd', z: 't1', type: 'ykc-command', server: 's1', command: 'readRealtime', pile: PILE, gun: 1, wires: [['ok'], ['no'], ['fail']] },
      { id: 'ok', z: 't1', type: 'helper' },
      { id: 'no', z: 't1', type: 'helper' },
      { id: 'fail', z: 't1', type: 'helper' },
      { id: 'c1', z: 't1', type: 'catch', scope: null, uncaught: false, wires: [['hc']] },
      { id: 'hc', z: 't1', type: 'helper' },
    ];
    await helper.load([translating('zh-CN', serverNode), inNode, pileNode, commandNode], flow);
    const ykcIn = helper.getNode('in1');
    const caught = new Inbox(helper.getNode('hc'));
    const ok = new Inbox(helper.getNode('ok'));
    const fail = new Inbox(helper.getNode('fail'));

    // The status (fanned out to the server's users) names the address and the cause, in Chinese.
    const first = await eventually(() => statusTexts(ykcIn).find((t) => t.includes(`127.0.0.1:${port}`)), 5000, 'a cannot-listen status');
    should(first).equal(`无法监听 127.0.0.1:${port}：端口已被占用 · 1 秒后重试`);
    // A second failure (after 1 s) doubles the wait and is not reported again.
    await eventually(() => statusTexts(ykcIn).find((t) => t.includes('2 秒后重试')), 8000, 'the second try');
    const errs = caught.msgs.filter((m: Msg) => m.error?.code === 'YKC_LISTEN');
    should(errs).have.length(1);
    should(errs[0].error.message).containEql(`127.0.0.1:${port}`);
    should(errs[0].error.message).containEql('端口已被占用（EADDRINUSE）');
    should(statusTexts(ykcIn).join('\n')).not.containEql('ykc-server.status');

    // Meanwhile a command fails as "offline" (output 3), not as a crash.
    helper.getNode('cmd').receive({ payload: {} });
    const offline = await fail.wait(() => true, 5000, 'the offline failure');
    should(offline.ykc.outcome).equal('offline');

    await new Promise((r) => blocker!.close(r));
    blocker = null;
    const server = helper.getNode('s1') as unknown as YkcServerNode;
    await server.ready;
    should(server.port()).equal(port);
    should(statusTexts(ykcIn).pop()).match(/^监听 :\d+$|台桩在线$/);
    // The virtual pile was waiting for the server: it connects and logs in by itself.
    await eventually(() => server.gateway?.isOnline(PILE), 15_000, 'the pile online');
    helper.getNode('cmd').receive({ payload: {} });
    const answer = await ok.wait(() => true, 10_000, 'the accepted command');
    should(answer.ykc).containEql({ outcome: 'accepted', pileNo: PILE, name: 'realtime' });
    should(caught.msgs.filter((m: Msg) => m.error?.code === 'YKC_LISTEN')).have.length(1);
  });

  it('a bad port is a configuration error (no retry), in the status as text, not a key', async () => {
    const flow: Flow = [
      { id: 't1', type: 'tab', label: 'ykc' },
      { id: 's1', type: 'ykc-server', host: '127.0.0.1', port: 70000, persist: false },
      { id: 'in1', z: 't1', type: 'ykc-in', server: 's1', wires: [[]] },
    ];
    await helper.load([translating('en-US', serverNode), inNode], flow);
    const server = helper.getNode('s1') as unknown as YkcServerNode;
    await should(server.ready).be.rejectedWith({ code: 'YKC_INPUT' });
    await eventually(() => statusTexts(helper.getNode('in1')).includes('configuration error (see the debug sidebar)'), 3000, 'the config-error status');
  });
});
