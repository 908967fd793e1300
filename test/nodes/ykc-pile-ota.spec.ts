/**
 * Remote update end to end in a real Node-RED runtime: ykc-ota (password in its credentials) sends
 * 0x94 through the flow's ykc-server to a ykc-pile virtual pile, which logs in to a real FTP server
 * on 127.0.0.1, downloads the file, answers 0x93, restarts and logs in with the new firmware.
 */
import should from 'should';
import { helper, Inbox, Msg } from '../examples/harness';
import { startFtpServer, TestFtpServer } from '../support/ftp-server';
import type { YkcServerNode } from '../../nodes/shared/server-node';

/* eslint-disable @typescript-eslint/no-require-imports */
const serverNode = require('../../nodes/ykc-server');
const pileNode = require('../../nodes/ykc-pile');
const otaNode = require('../../nodes/ykc-ota');
/* eslint-enable @typescript-eslint/no-require-imports */

const PILE = '32010200000711';

describe('nodes: ykc-ota → ykc-pile, a real FTP download', function () {
  this.timeout(20_000);
  let ftp: TestFtpServer;
  before(async () => {
    ftp = await startFtpServer('fw', 'read-only-pw');
    ftp.put('firmware/AC-7.1.img', Buffer.alloc(4096, 7));
  });
  after(() => ftp.close());
  afterEach(() => helper.unload());

  async function rig(path: string, password = ftp.password) {
    const flow = [
      { id: 't1', type: 'tab', label: 'ota' },
      { id: 's1', type: 'ykc-server', host: '127.0.0.1', port: 0, persist: false, recordConfirm: 'at-once' },
      { id: 'p1', z: 't1', type: 'ykc-pile', server: 's1', pileNo: PILE, pileType: 'AC', guns: 1, version: '1.6', speed: 50, autoConnect: true, wires: [['ev'], []] },
      { id: 'ev', z: 't1', type: 'helper' },
      {
        id: 'o1', z: 't1', type: 'ykc-ota', server: 's1', pile: PILE, pileType: 'str', pileModel: '2', pilePower: '7', ftpHost: ftp.host, ftpPort: String(ftp.port),
        ftpUser: ftp.user, ftpPath: path, runWhen: '1', timeoutMinutes: '1', wires: [['ok'], ['no'], ['no']],
      },
      { id: 'ok', z: 't1', type: 'helper' },
      { id: 'no', z: 't1', type: 'helper' },
    ];
    await helper.load([serverNode, pileNode, otaNode], flow as never, { o1: { ftpPassword: password } } as never);
    await (helper.getNode('s1') as unknown as YkcServerNode).ready;
    const r = { ev: new Inbox(helper.getNode('ev')), ok: new Inbox(helper.getNode('ok')), no: new Inbox(helper.getNode('no')), ota: helper.getNode('o1') };
    await r.ev.wait((m: Msg) => m.topic === `ykc-pile/${PILE}/received/loginReply`, 5000, 'login');
    return r;
  }

  it('downloads, answers success, restarts and logs in with the firmware named by the file', async () => {
    const r = await rig('/firmware/AC-7.1.img');
    r.ota.receive({ payload: {} } as never);
    const ok = await r.ok.wait(() => true, 10_000, 'the accepted update');
    should(ok.payload).containEql({ pileNo: PILE, status: 0 });
    const ev = await r.ev.wait((m: Msg) => m.topic === `ykc-pile/${PILE}/ota`, 5000, 'the ota event');
    should(ev.payload).containEql({ status: 0, bytes: 4096, firmware: 'AC-7.1', firmwareBefore: 'SIM-1.00', ftpHost: ftp.host });
    should(ev.ykc).containEql({ event: 'updated' });
    const relogin = await r.ev.wait((m: Msg) => m.topic === `ykc-pile/${PILE}/sent/login` && m.payload.firmwareVersion === 'AC-7.1', 10_000, 'the login with the new firmware');
    should(relogin.payload.firmwareVersion).equal('AC-7.1');
  });

  it('a wrong FTP password: status 3 (the spec has no other code for a failed download), no restart', async () => {
    const r = await rig('/firmware/AC-7.1.img', 'not-the-password');
    r.ota.receive({ payload: {} } as never);
    const no = await r.no.wait(() => true, 10_000, 'the refused update');
    should(no.ykc).containEql({ reason: 3 });
    const ev = await r.ev.wait((m: Msg) => m.topic === `ykc-pile/${PILE}/ota`, 5000, 'the ota event');
    should(ev.payload).containEql({ status: 3, failure: 'login', firmwareBefore: 'SIM-1.00' });
    should(ev.payload).not.have.property('ftpPassword');
  });
});
