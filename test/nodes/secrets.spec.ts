/**
 * The OTA FTP password (0x94) reaches the pile and nothing else: not ykc-in's 'sent' messages (decoded
 * or raw hex), not ykc-pile's messages about the frame it received, not ykc-ota's outputs or errors.
 * Real Node-RED: ykc-server + ykc-ota + ykc-in (sent, raw) + a virtual ykc-pile (raw) in one flow.
 * (That the wire carries the real password: test/gateway/secrets.spec.ts.)
 */
import should from 'should';
import { Collector, Flow, helper, serverNode } from './commands-harness';
import { freePort } from '../support/ports';
import type { YkcServerNode } from '../../nodes/shared/server-node';

/* eslint-disable @typescript-eslint/no-require-imports */
const otaNode = require('../../nodes/ykc-ota');
const inNode = require('../../nodes/ykc-in');
const pileNode = require('../../nodes/ykc-pile');
/* eslint-enable @typescript-eslint/no-require-imports */

const PILE = '32010200000931';
const SECRET = 'Fw-s3cr3t!';
const TARIFF = {
  modelCode: '0001',
  sharpElecPrice: 1.2, sharpServicePrice: 0.6, peakElecPrice: 1, peakServicePrice: 0.6,
  flatElecPrice: 0.8, flatServicePrice: 0.5, valleyElecPrice: 0.4, valleyServicePrice: 0.4,
  lossRatio: 0, slots: new Array(48).fill(2),
};
const SECRET_HEX = Buffer.from(SECRET, 'latin1').toString('hex');

describe('nodes: the OTA FTP password is masked in every message (issue 11.7)', function () {
  this.timeout(15_000);
  afterEach(() => helper.unload());

  it('ykc-in sent + raw, ykc-pile received + raw and ykc-ota outputs show "******"', async () => {
    // The virtual pile really fetches the firmware (src/simulator/ota.ts): a closed port makes it answer
    // "download timed out" (3) at once.
    const closedPort = await freePort();
    const flow: Flow = [
      { id: 't1', type: 'tab', label: 'secrets' },
      { id: 's1', type: 'ykc-server', host: '127.0.0.1', port: 0, autoTimeSync: false, persist: false, tariff: JSON.stringify(TARIFF) },
      {
        id: 'cmd', type: 'ykc-ota', z: 't1', server: 's1', pile: PILE, pileType: 'str', pileModel: '1', pilePower: '60', ftpHost: '127.0.0.1', ftpPort: String(closedPort),
        ftpUser: 'fw', ftpPath: '/fw/', runWhen: '1', timeoutMinutes: '5', timeout: '5', wires: [['o1'], ['o2'], ['o3']],
      },
      { id: 'o1', z: 't1', type: 'helper' },
      { id: 'o2', z: 't1', type: 'helper' },
      { id: 'o3', z: 't1', type: 'helper' },
      { id: 'in1', z: 't1', type: 'ykc-in', server: 's1', groups: 'sent', raw: true, wires: [['h1']] },
      { id: 'h1', z: 't1', type: 'helper' },
      { id: 'p1', z: 't1', type: 'ykc-pile', server: 's1', pileNo: PILE, pileType: 'DC', guns: 1, version: '1.5', speed: 100, autoConnect: true, raw: true, wires: [['ev'], []] },
      { id: 'ev', z: 't1', type: 'helper' },
      { id: 'c1', z: 't1', type: 'catch', scope: null, uncaught: false, wires: [['hc']] },
      { id: 'hc', z: 't1', type: 'helper' },
    ];
    await helper.load([serverNode, otaNode, inNode, pileNode], flow, { cmd: { ftpPassword: SECRET } });
    const s = helper.getNode('s1') as unknown as YkcServerNode;
    await s.ready;
    const gw = s.gateway!;
    const [o1, o2, o3, sent, ev, caught] = ['o1', 'o2', 'o3', 'h1', 'ev', 'hc'].map((id) => new Collector(helper.getNode(id)));
    if (!gw.session(PILE)) await new Promise<void>((resolve) => gw.once('online', () => resolve()));

    (helper.getNode('cmd') as unknown as { receive(m: object): void }).receive({ payload: {} });
    const answer = await Promise.race([o1.next(10_000), o2.next(10_000)]);
    should(answer.payload).have.property('status', 3);

    // ykc-in's 'sent' message for the 0x94: decoded field and raw bytes masked.
    let otaSent: Record<string, any> | undefined; // eslint-disable-line @typescript-eslint/no-explicit-any
    for (let i = 0; i < 20 && !otaSent; i++) {
      const m = await sent.next(5000, 'sent message');
      if (m.ykc?.type === 0x94 || m.payload?.ftpHost) otaSent = m;
    }
    should(otaSent!.payload.ftpPassword).equal('******');
    should(otaSent!.payload.ftpHost).equal('127.0.0.1');
    should(String(otaSent!.ykc.raw)).containEql('2A'.repeat(16));

    // ykc-pile's message about the 0x94 it received.
    let received: Record<string, any> | undefined; // eslint-disable-line @typescript-eslint/no-explicit-any
    for (let i = 0; i < 40 && !received; i++) {
      const m = await ev.next(5000, 'pile message');
      if (m.ykc?.direction === 'received' && m.ykc?.type === 0x94) received = m;
    }
    should(received!.payload.ftpPassword).equal('******');
    should(String(received!.ykc.raw)).containEql('2A'.repeat(16));

    const everything = JSON.stringify([o1.msgs, o2.msgs, o3.msgs, sent.msgs, ev.msgs, caught.msgs]).toLowerCase();
    should(everything).not.containEql(SECRET.toLowerCase());
    should(everything).not.containEql(SECRET_HEX);
  });
});
