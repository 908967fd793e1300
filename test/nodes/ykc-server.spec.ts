import * as net from 'net';
import should from 'should';
import helper = require('node-red-node-test-helper');
import { ScriptedPile } from '../support/pile-client';
import { rawFrame } from '../support/raw';
import type { YkcServerNode } from '../../nodes/shared/server-node';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const serverNode = require('../../nodes/ykc-server');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const inNode = require('../../nodes/ykc-in');

helper.init(require.resolve('node-red'));

const PILE = '32010200000001';
const login = (pile = PILE) => rawFrame(0x01, `${pile}0002 0F 56342E312E353000 01 ${'00'.repeat(10)} 04`, '0000');

type Flow = helper.TestFlowsItem<any>[]; // eslint-disable-line @typescript-eslint/no-explicit-any
type Msg = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

function flow(extra: Partial<Record<string, unknown>> = {}, inExtra: Partial<Record<string, unknown>> = {}): Flow {
  return [
    { id: 't1', type: 'tab', label: 'ykc' },
    { id: 's1', type: 'ykc-server', host: '127.0.0.1', port: 0, autoTimeSync: false, persist: false, ...extra },
    { id: 'in1', z: 't1', type: 'ykc-in', server: 's1', wires: [['h1']], ...inExtra },
    { id: 'h1', z: 't1', type: 'helper' },
    { id: 'c1', z: 't1', type: 'catch', scope: null, uncaught: false, wires: [['hc']] },
    { id: 'hc', z: 't1', type: 'helper' },
  ];
}

async function portOf(): Promise<number> {
  const s = helper.getNode('s1') as unknown as YkcServerNode;
  await s.ready;
  return s.port()!;
}

describe('nodes: ykc-server + ykc-in', function () {
  this.timeout(10_000);
  const piles: ScriptedPile[] = [];
  afterEach(async () => {
    for (const p of piles.splice(0)) p.close();
    await helper.unload();
  });

  it('listens on deploy; a pile logs in; ykc-in emits login, online and realtime msgs', async () => {
    await helper.load([serverNode, inNode], flow());
    const port = await portOf();
    const h1 = helper.getNode('h1');
    const msgs: Array<{ topic: string; payload: Record<string, unknown>; ykc: Record<string, unknown> }> = [];
    h1.on('input', (m: Msg) => msgs.push(m as never));
    const p = await ScriptedPile.connect(port);
    piles.push(p);
    p.write(login());
    await p.next(0x02);
    const zeros = '00'.repeat(16);
    p.write(rawFrame(0x13, `${zeros}${PILE}01 02 01 01 ${'00'.repeat(4)} 00 ${'00'.repeat(8)} ${'00'.repeat(20)}`, '0100'));
    await new Promise<void>((r) => {
      const t = setInterval(() => {
        if (msgs.some((m) => m.topic.endsWith('/realtime'))) {
          clearInterval(t);
          r();
        }
      }, 10);
    });
    const topics = msgs.map((m) => m.topic);
    should(topics).containEql(`ykc/${PILE}/login`);
    should(topics).containEql(`ykc/${PILE}/online`);
    const rt = msgs.find((m) => m.topic === `ykc/${PILE}/realtime`)!;
    should(rt.payload).containEql({ pileNo: PILE, gunNo: 1, gunState: 2, gunStateName: 'idle', gunPlugged: 1 });
    should(rt.ykc).containEql({ pileNo: PILE, gunNo: 1, type: 0x13, name: 'realtime', version: '1.5' });
    should(topics).containEql(`ykc/${PILE}/gunState`);
  });

  it('filters by pile number', async () => {
    await helper.load([serverNode, inNode], flow({}, { piles: '11111111111111' }));
    const port = await portOf();
    let got = 0;
    helper.getNode('h1').on('input', () => got++);
    const p = await ScriptedPile.connect(port);
    piles.push(p);
    p.write(login());
    await p.next(0x02);
    await new Promise((r) => setTimeout(r, 50));
    should(got).equal(0);
  });

  it('a busy port gives a red status and an error a Catch node sees, and does not crash', async () => {
    const blocker = net.createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()));
    const busy = (blocker.address() as net.AddressInfo).port;
    try {
      const caught = new Promise<Msg>((r) => {
        helper.load([serverNode, inNode], flow({ port: busy })).then(() => helper.getNode('hc').on('input', (m: Msg) => r(m)));
      });
      const m = await caught;
      should(m.error.code).equal('YKC_LISTEN');
      const inn = helper.getNode('in1');
      (inn.status as unknown as { should: { be: { calledWithMatch(x: unknown): void } } }).should.be.calledWithMatch({ fill: 'red' });
    } finally {
      blocker.close();
    }
  });

  it('redeploy frees the port and closes pile sockets', async () => {
    await helper.load([serverNode, inNode], flow());
    const port = await portOf();
    const p = await ScriptedPile.connect(port);
    piles.push(p);
    p.write(login());
    await p.next(0x02);
    await helper.unload();
    await p.whenClosed();
    // The port can be bound again.
    const again = net.createServer();
    await new Promise<void>((resolve, reject) => {
      again.once('error', reject);
      again.listen(port, '127.0.0.1', () => resolve());
    });
    again.close();
  });

  it('admin endpoint lists online piles', async () => {
    await helper.load([serverNode, inNode], flow());
    const port = await portOf();
    const p = await ScriptedPile.connect(port);
    piles.push(p);
    p.write(login());
    await p.next(0x02);
    // A second pile with a SIM card: its ICCID (login 0x01, BCD 10 bytes) is listed; zeros mean none.
    const PILE2 = '32010200000002';
    const q = await ScriptedPile.connect(port);
    piles.push(q);
    q.write(rawFrame(0x01, `${PILE2}0002 0F 56342E312E353000 00 89860123456789012345 00`, '0000'));
    await q.next(0x02);
    const res = await helper.request().get('/ykc/servers/s1/piles').expect(200);
    should(res.body).have.length(2);
    const byNo = Object.fromEntries((res.body as Array<{ pileNo: string }>).map((x) => [x.pileNo, x]));
    should(byNo[PILE]).containEql({ pileNo: PILE, version: '1.5', pileType: 'DC', gunCount: 2, firmwareVersion: 'V4.1.50', iccid: null });
    should(byNo[PILE2]).containEql({ iccid: '89860123456789012345' });
    const gw = (helper.getNode('s1') as unknown as YkcServerNode).gateway!;
    should(gw.session(PILE2)!.info().iccid).equal('89860123456789012345');
    await helper.request().get('/ykc/servers/nope/piles').expect(404);
  });
});
