/**
 * Problem reporting that noise cannot mute: ykc-server throttles reports per code and per pile,
 * never throttles pile takeovers. Checked in a real Node-RED runtime with a Catch node, while raw
 * sockets flood the gateway with garbage.
 */
import * as net from 'net';
import should from 'should';
import helper = require('node-red-node-test-helper');
import { ProblemThrottle } from '../../nodes/shared/errors';
import { rawFrame } from '../support/raw';
import type { YkcServerNode } from '../../nodes/shared/server-node';
import { translating } from '../support/i18n';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const serverNode = require('../../nodes/ykc-server');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const inNode = require('../../nodes/ykc-in');

helper.init(require.resolve('node-red'));

const PILE = '32010200000001';
const OTHER = '32010200000002';
const login = (pile: string) => rawFrame(0x01, `${pile}0002 0F 56342E312E353000 01 ${'00'.repeat(10)} 04`, '0000');
type Flow = helper.TestFlowsItem<any>[]; // eslint-disable-line @typescript-eslint/no-explicit-any
type Msg = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

describe('ProblemThrottle: per code, per pile, takeovers always', () => {
  it('noise of one code does not use up another code; one pile does not use up its code for others', () => {
    let t = 0;
    const th = new ProblemThrottle(10, 3, 10_000, 100, () => t);
    let crc = 0;
    for (let i = 0; i < 50; i++) if (th.admit('YKC_CRC', null) !== null) crc++;
    should(crc).equal(10);
    should(th.admit('YKC_LOGIN', PILE)).equal(0);
    should(th.admit('YKC_STORE', null)).equal(0);
    let fieldA = 0;
    for (let i = 0; i < 10; i++) if (th.admit('YKC_FIELD', PILE) !== null) fieldA++;
    should(fieldA).equal(3);
    should(th.admit('YKC_FIELD', OTHER)).equal(7); // another pile still gets through, and hears of the 7 held back
    for (let i = 0; i < 20; i++) should(th.admit('YKC_LOGIN', PILE, true)).not.be.null();
    t += 10_000;
    should(th.admit('YKC_CRC', null)).equal(40);
    should(th.suppressedTotal).equal(47);
  });

  it('remembers at most maxKeys windows', () => {
    const th = new ProblemThrottle(1, 1, 10_000, 50, () => 0);
    for (let i = 0; i < 10_000; i++) th.admit('YKC_FIELD', String(i));
    should((th as unknown as { windows: Map<string, unknown> }).windows.size).be.belowOrEqual(50);
  });
});

describe('nodes: ykc-server problem reporting under a garbage flood', function () {
  this.timeout(20_000);
  const socks: net.Socket[] = [];
  afterEach(async () => {
    for (const s of socks.splice(0)) s.destroy();
    await helper.unload();
  });

  const connect = (port: number): Promise<net.Socket> =>
    new Promise((resolve, reject) => {
      const s = net.connect(port, '127.0.0.1', () => resolve(s));
      s.on('error', () => {});
      s.once('error', reject);
      socks.push(s);
    });
  const replyTo = (s: net.Socket, type: number): Promise<void> =>
    new Promise((resolve) => {
      const on = (d: Buffer) => {
        for (let i = 0; i + 5 < d.length; i++) {
          if (d[i] === 0x68 && d[i + 5] === type) {
            s.off('data', on);
            resolve();
            return;
          }
        }
      };
      s.on('data', on);
    });

  it('takeovers (even from the same address) and a pile problem reach Catch while anonymous connections flood framing errors', async () => {
    await helper.load(
      [translating('en-US', serverNode), inNode], // the user's text, not the catalogue key
      <Flow>[
        { id: 't1', type: 'tab', label: 'ykc' },
        { id: 's1', type: 'ykc-server', host: '127.0.0.1', port: 0, autoTimeSync: false, persist: false },
        { id: 'in1', z: 't1', type: 'ykc-in', server: 's1', wires: [[]] },
        { id: 'c1', z: 't1', type: 'catch', scope: null, uncaught: false, wires: [['hc']] },
        { id: 'hc', z: 't1', type: 'helper' },
      ],
    );
    const s1 = helper.getNode('s1') as unknown as YkcServerNode;
    await s1.ready;
    const port = s1.port()!;
    const caught: Msg[] = [];
    helper.getNode('hc').on('input', (m: Msg) => caught.push(m));

    // The noise: anonymous connections writing random bytes with false frame starts; each is closed
    // at maxGarbageBytes and opened again, for as long as the test runs.
    let flooding = true;
    let seed = 1;
    const junk = () => {
      const b = Buffer.alloc(1024);
      for (let i = 0; i < b.length; i++) {
        seed = (seed * 1103515245 + 12345) & 0x7fffffff;
        b[i] = seed % 23 === 0 ? 0x68 : seed & 0xff;
      }
      return b;
    };
    const attacker = async () => {
      while (flooding) {
        const s = await connect(port);
        while (flooding && !s.destroyed) {
          s.write(junk());
          await new Promise((r) => setTimeout(r, 5));
        }
        s.destroy();
      }
    };
    const attackers = Array.from({ length: 10 }, attacker);
    const end = Date.now() + 5000;
    while (caught.length < 15 && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
    should(caught.length).be.aboveOrEqual(10); // the flood alone fills what one shared throttle allowed

    // The real pile, then two takeovers of its number from the same host.
    const addr = (s: net.Socket) => `127.0.0.1:${s.localPort}`;
    const real = await connect(port);
    const realAt = addr(real);
    real.write(login(PILE));
    await replyTo(real, 0x02);
    const impostor = await connect(port);
    const impostorAt = addr(impostor);
    impostor.write(login(PILE));
    await replyTo(impostor, 0x02);
    const again = await connect(port);
    const againAt = addr(again);
    again.write(login(PILE));
    await replyTo(again, 0x02);
    // A logged-in pile's own problem: a heartbeat naming another pile.
    again.write(rawFrame(0x03, `${OTHER}0100`, '0100'));

    const wanted = () => caught.filter((m) => m.error?.code === 'YKC_LOGIN' && m.payload?.details?.takeover).length >= 2 && caught.some((m) => m.error?.code === 'YKC_FIELD' && m.payload?.pileNo === PILE);
    const end2 = Date.now() + 5000;
    while (!wanted() && Date.now() < end2) await new Promise((r) => setTimeout(r, 20));
    flooding = false;
    await Promise.all(attackers);

    const takeovers = caught.filter((m) => m.error?.code === 'YKC_LOGIN' && m.payload?.details?.takeover);
    should(takeovers).have.length(2);
    const [first, second] = takeovers.map((m) => m.payload.details);
    should([first.previousRemote, first.remote, second.previousRemote, second.remote]).eql([realAt, impostorAt, impostorAt, againAt]);
    should(takeovers[0].error.message).containEql(PILE).and.containEql(realAt).and.containEql(impostorAt);
    should(caught.some((m) => m.error?.code === 'YKC_FIELD' && m.payload?.pileNo === PILE)).be.true();
    // The noise stayed within its own allowance: at most 10 per code in the test's first window.
    const noise: Record<string, number> = {};
    for (const m of caught) if (!m.payload?.pileNo) noise[m.error.code] = (noise[m.error.code] ?? 0) + 1;
    for (const n of Object.values(noise)) should(n).be.belowOrEqual(20); // two 10-s windows at most
    const gw = s1.gateway!;
    should(gw.counters.crcErrors + gw.counters.framingErrors).be.above(Object.values(noise).reduce((a, b) => a + b, 0));
  });

  it("the dialog's options reach the gateway: takeover 'refuse-while-alive' refuses a second login of a live pile, reported", async () => {
    await helper.load(
      [serverNode, inNode],
      <Flow>[
        { id: 't1', type: 'tab', label: 'ykc' },
        { id: 's1', type: 'ykc-server', host: '127.0.0.1', port: 0, autoTimeSync: false, persist: false, takeover: 'refuse-while-alive', admitPerSecond: '250' },
        { id: 'in1', z: 't1', type: 'ykc-in', server: 's1', wires: [[]] },
        { id: 'c1', z: 't1', type: 'catch', scope: null, uncaught: false, wires: [['hc']] },
        { id: 'hc', z: 't1', type: 'helper' },
      ],
    );
    const s1 = helper.getNode('s1') as unknown as YkcServerNode;
    await s1.ready;
    should(s1.gateway!.options).containEql({ takeover: 'refuse-while-alive', admitPerSecond: 250 });
    const caught: Msg[] = [];
    helper.getNode('hc').on('input', (m: Msg) => caught.push(m));
    const port = s1.port()!;
    const real = await connect(port);
    real.write(login(PILE));
    await replyTo(real, 0x02);
    const impostor = await connect(port);
    const closed = new Promise((r) => impostor.once('close', r));
    const answered = replyTo(impostor, 0x02); // also reads, so the gateway's close is seen
    impostor.write(login(PILE));
    await answered;
    await closed;
    should(s1.gateway!.session(PILE)!.remote).equal(`127.0.0.1:${real.localPort}`);
    const end = Date.now() + 5000;
    while (!caught.some((m) => m.error?.code === 'YKC_LOGIN') && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
    const report = caught.find((m) => m.error?.code === 'YKC_LOGIN')!;
    should(report.payload.details).containEql({ takeover: true, refused: true, previousRemote: `127.0.0.1:${real.localPort}` });
  });
});
