/**
 * First hour: an impostor logs in with a live pile's number from the same address (127.0.0.1), in a
 * real Node-RED runtime (ykc-server, ykc-in, Catch) with the independent raw client of first-hour-pile.ts.
 * Every takeover reaches Catch (never throttled) with both addresses, and the text is the user's
 * language — it was the gateway's English sentence in a zh-CN runtime — and says what it means:
 * who gets the pile's commands now, and that YKC cannot tell the two apart.
 */
import should from 'should';
import helper = require('node-red-node-test-helper');
import type { YkcServerNode } from '../../nodes/shared/server-node';
import { translating } from '../support/i18n';
import { FirstHourPile, heartbeat } from './first-hour-pile';

/* eslint-disable @typescript-eslint/no-require-imports */
const serverNode = require('../../nodes/ykc-server');
const inNode = require('../../nodes/ykc-in');
/* eslint-enable @typescript-eslint/no-require-imports */

helper.init(require.resolve('node-red'));

const PILE = '55010200000031';
type Msg = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

describe('first hour: a second login with a live pile number, from the same address (Node-RED runtime)', function () {
  this.timeout(30_000);
  const socks: FirstHourPile[] = [];
  afterEach(async () => {
    for (const s of socks.splice(0)) s.close();
    await helper.unload();
  });

  async function load(lang: string, takeover?: string): Promise<{ port: number; caught: Msg[] }> {
    await helper.load([translating(lang, serverNode), inNode], [
      { id: 't1', type: 'tab', label: 'ykc' },
      { id: 's1', type: 'ykc-server', host: '127.0.0.1', port: 0, autoTimeSync: false, persist: false, ...(takeover ? { takeover } : {}) },
      // Problems of a config node reach the Catch nodes of the tabs its ykc-in nodes are on.
      { id: 'in1', z: 't1', type: 'ykc-in', server: 's1', wires: [[]] },
      { id: 'c1', z: 't1', type: 'catch', scope: null, uncaught: false, wires: [['hc']] },
      { id: 'hc', z: 't1', type: 'helper' },
    ] as helper.TestFlowsItem[]);
    const s1 = helper.getNode('s1') as unknown as YkcServerNode;
    await s1.ready;
    const caught: Msg[] = [];
    helper.getNode('hc').on('input', (m: Msg) => caught.push(m));
    return { port: s1.port()!, caught };
  }
  const connect = async (port: number) => {
    const p = await FirstHourPile.connect(port);
    socks.push(p);
    return p;
  };
  const takeovers = (caught: Msg[]) => caught.filter((m) => m.error?.code === 'YKC_LOGIN' && m.payload?.details?.takeover === true);
  async function waitFor(pred: () => boolean, what: string, ms = 5000): Promise<void> {
    const end = Date.now() + ms;
    while (!pred()) {
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  it('zh-CN, default (replace): five takeovers in a row → five reports in Chinese with both addresses; the newest connection holds the pile', async () => {
    const { port, caught } = await load('zh-CN');
    const real = await connect(port);
    should(await real.login(PILE)).equal(0);
    let previous = `127.0.0.1:${real.localPort}`;
    for (let i = 0; i < 5; i++) {
      const impostor = await connect(port);
      should(await impostor.login(PILE)).equal(0);
      const now = `127.0.0.1:${impostor.localPort}`;
      await waitFor(() => takeovers(caught).length === i + 1, `takeover report ${i + 1}`);
      const m = takeovers(caught)[i];
      should(m.payload.details).containEql({ remote: now, previousRemote: previous, refused: false });
      should(m.error.message).match(/^(Error: )?充电桩 55010200000031 从 127\.0\.0\.1:\d+ 登录，而它正从 127\.0\.0\.1:\d+ 在线/);
      should(m.error.message).containEql(now).and.containEql(previous).and.containEql('新连接已替换旧连接');
      previous = now;
    }
    // Only the newest connection is still open: the older ones were closed by the gateway.
    await waitFor(() => socks.slice(0, -1).every((s) => s.closed), 'older connections closed');
    should(socks[socks.length - 1].closed).be.false();
  });

  it("en-US, takeover 'refuse-while-alive': the impostor is refused while the pile heartbeats, the report says so", async () => {
    const { port, caught } = await load('en-US', 'refuse-while-alive');
    const real = await connect(port);
    should(await real.login(PILE)).equal(0);
    real.write(heartbeat(PILE, 1, [0, 1]));
    await real.next(0x04);
    const impostor = await connect(port);
    const impostorAt = `127.0.0.1:${impostor.localPort}`;
    should(await impostor.login(PILE)).equal(1);
    await impostor.whenClosed();
    await waitFor(() => takeovers(caught).length === 1, 'takeover report');
    const m = takeovers(caught)[0];
    should(m.payload.details).containEql({ refused: true, remote: impostorAt, previousRemote: `127.0.0.1:${real.localPort}` });
    should(m.error.message).match(/^(Error: )?Pile 55010200000031 logged in from 127\.0\.0\.1:\d+ while online and alive from 127\.0\.0\.1:\d+ .*the new login was refused/);
    should(real.closed).be.false();
    real.write(heartbeat(PILE, 1, [0, 2]));
    await real.next(0x04);
  });
});
