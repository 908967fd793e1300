/**
 * examples/reboot-ota.json with virtual piles that really restart: a reboot and an update are
 * confirmed by the pile logging in again (with the new firmware), a refusal is routed, and a pile
 * that does not come back is reported by the trigger (its 15 minutes shortened for the test). The
 * update is real: the example's "ykc ota" points at an FTP server on 127.0.0.1 (instead of its
 * placeholder 192.168.1.10) and the virtual pile downloads the file before it restarts.
 */
import should from 'should';
import type { DecodedFrame } from '../../src/protocol';
import { VirtualPile, VirtualPileOptions } from '../../src/simulator';
import { startFtpServer, TestFtpServer } from '../support/ftp-server';
import { Loaded, loadExample } from './harness';

const PILE = '32010200000001'; // the pile number in the example's inject nodes
const AC_PILE = '32010200000402';
const SLOW_PILE = '32010200000403';
const NO_RETURN_MS = 1500;

describe('example reboot-ota.json', function () {
  this.timeout(15_000);
  let ex: Loaded;
  let ftp: TestFtpServer;
  const piles: VirtualPile[] = [];

  async function pile(opts: Partial<VirtualPileOptions> & { pileNo: string }): Promise<VirtualPile> {
    const p = new VirtualPile({ port: ex.ykcPort, guns: 1, seed: piles.length + 1, timing: { rebootMs: 150, jitter: 0 }, ...opts });
    piles.push(p);
    p.connect();
    await p.waitOnline();
    return p;
  }

  before(async () => {
    ftp = await startFtpServer('ykcfw', 'fw-only-reader');
    ftp.put('fw/DC-4.2.bin', Buffer.alloc(20_000, 0x5a));
    ex = await loadExample('reboot-ota.json', {
      credentials: { 'reboot.otanode': { ftpPassword: ftp.password } },
      patch(flow) {
        const ota = flow.find((n) => n.id === 'reboot.otanode')!;
        should(ota).match({ ftpHost: '192.168.1.10', ftpPort: '21', ftpUser: 'ykcfw' });
        Object.assign(ota, { ftpHost: ftp.host, ftpPort: String(ftp.port) });
        const t = flow.find((n) => n.id === 'reboot.timer')!;
        should(t).match({ duration: '15', units: 'min' });
        Object.assign(t, { duration: String(NO_RETURN_MS), units: 'ms' });
      },
    });
  });

  after(async () => {
    await Promise.all(piles.map((p) => p.close()));
    await ex?.close();
    await ftp?.close();
  });

  it('reboot: accepted, the pile restarts, logs in again and the flow reports "rebooted"', async () => {
    const p = await pile({ pileNo: PILE, firmware: 'SIM-1.00' });
    ex.trigger('reboot.go');
    const r = await ex.inbox('reboot.result').wait((m) => m.payload.event === 'rebooted', 5000, 'rebooted');
    should(r.payload).match({ pileNo: PILE, firmware: 'SIM-1.00' });
    should(r.payload.seconds).be.a.Number();
    should(p.stats.reboots).equal(1);
    should(p.stats.logins).equal(2);
  });

  it('update: the pile downloads the firmware over FTP, restarts with it, the flow reports "updated"', async () => {
    const p = piles[0];
    const sent = new Promise<DecodedFrame>((resolve) => p.on('received', (f: DecodedFrame) => f.type === 0x94 && resolve(f)));
    ex.trigger('reboot.ota');
    const f = await sent;
    should(f.body).match({ pileNo: PILE, pileModel: 1, ftpHost: ftp.host, ftpPort: ftp.port, ftpUser: 'ykcfw', ftpPath: '/fw/DC-4.2.bin', runWhen: 2, timeoutMinutes: 10 });
    const r = await ex.inbox('reboot.result').wait((m) => m.payload.event === 'updated', 5000, 'updated');
    should(r.payload).match({ pileNo: PILE, firmwareBefore: 'SIM-1.00', firmware: 'DC-4.2' });
    should(ftp.logins).containEql({ username: 'ykcfw', ok: true });
    should(p.stats.reboots).equal(2);
  });

  it('a pile that refuses the update (an AC pile, DC firmware) goes to "refused / no answer" with its reason', async () => {
    await pile({ pileNo: AC_PILE, pileType: 'AC' });
    ex.trigger('reboot.otanode', { payload: { pileNo: AC_PILE } });
    const m = await ex.inbox('reboot.refused').wait((x) => x.ykc.pileNo === AC_PILE, 5000, 'refusal');
    should(m.ykc).match({ outcome: 'refused', reason: 2 });
    should(ex.inbox('reboot.result').msgs.filter((x) => x.payload.pileNo === AC_PILE)).have.length(0);
  });

  it('a pile that accepts but does not come back is reported as "noReturn"', async () => {
    const p = await pile({ pileNo: SLOW_PILE, timing: { rebootMs: 600_000, jitter: 0 } });
    ex.trigger('reboot.node', { payload: { pileNo: SLOW_PILE } });
    const r = await ex.inbox('reboot.result').wait((m) => m.payload.pileNo === SLOW_PILE, 5000, 'noReturn');
    should(r.payload).match({ event: 'noReturn', kind: 'reboot', pileNo: SLOW_PILE });
    should(p.linkState).equal('rebooting');
  });
});
