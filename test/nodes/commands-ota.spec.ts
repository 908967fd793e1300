import should from 'should';
import { rawFrame } from '../support/raw';
import { inject, PILE, Rig, rig, seqOf } from './commands-harness';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const otaNode = require('../../nodes/ykc-ota');

const SECRET = 's3cr3t-Pa55';
const OTA = {
  type: 'ykc-ota',
  pile: PILE,
  pileType: 'str',
  pileModel: '1',
  pilePower: '60',
  ftpHost: '114.55.114.174',
  ftpPort: '21',
  ftpUser: 'firmware',
  ftpPath: '/ota/dc60/',
  runWhen: '2',
  timeoutMinutes: '10',
  timeout: '2',
};
const ascii = (s: string, w: number) => Buffer.from(s.padEnd(w, '\0'), 'latin1').toString('hex');

describe('nodes: ykc-ota (0x94 → 0x93)', function () {
  this.timeout(10_000);
  let r: Rig;
  afterEach(async () => {
    if (r) await r.close();
  });

  it('sends the FTP update with the password from the credentials, byte-exact', async () => {
    r = await rig(otaNode, OTA, { credentials: { ftpPassword: SECRET } });
    const p = await r.pile();
    inject(r, { payload: {} });
    const f = await p.next(0x94);
    const body = p.raw[p.raw.length - 1].subarray(6, 6 + 94).toString('hex');
    should(body).equal(
      PILE + '01' + '3c00' + ascii('114.55.114.174', 16) + '1500' + ascii('firmware', 16) + ascii(SECRET, 16) + ascii('/ota/dc60/', 32) + '02' + '0a',
    );
    should(f.body).containEql({ pileModelName: 'DC', ftpPassword: SECRET, runWhenName: 'when idle' });
    p.write(rawFrame(0x93, `${PILE}00`, seqOf(f)));
    const m = await r.out[0].next();
    should(m.payload).containEql({ status: 0, statusName: 'ok' });
    should(JSON.stringify(m)).not.containEql(SECRET);
  });

  it('a pile that refuses ("firmware does not fit this model") → output 2', async () => {
    r = await rig(otaNode, OTA, { credentials: { ftpPassword: SECRET } });
    const p = await r.pile();
    inject(r, { payload: { pileModel: 'AC', ftpPassword: 'other' } });
    const f = await p.next(0x94);
    should(f.body).containEql({ pileModel: 2, ftpPassword: 'other' });
    p.write(rawFrame(0x93, `${PILE}02`, seqOf(f)));
    const m = await r.out[1].next();
    should(m.ykc).containEql({ outcome: 'refused', reason: 2, reasonName: 'firmware does not fit this model' });
  });

  it('field widths (16/16/16/32), port, minutes → YKC_FIELD, the password never in the error, nothing sent', async () => {
    r = await rig(otaNode, OTA, { credentials: { ftpPassword: SECRET } });
    const p = await r.pile();
    const longSecret = 'x'.repeat(17) + SECRET;
    const bad = [
      { ftpHost: 'firmware.example.com' },
      { ftpUser: 'u'.repeat(17) },
      { ftpPassword: longSecret },
      { ftpPath: '/' + 'p'.repeat(32) },
      { ftpPort: 70000 },
      { timeoutMinutes: 0 },
      { ftpHost: '' },
      { ftpPassword: 'pässwort' },
    ];
    for (const payload of bad) {
      inject(r, { payload });
      const e = await r.caught.next();
      should(e.error.code).equal('YKC_FIELD');
      should(e.error.message).not.containEql(SECRET);
      should(e.error.message).not.containEql('pässwort');
      await r.out[2].next();
    }
    inject(r, { payload: { ftpPath: 'p'.repeat(32) } });
    const f = await p.next(0x94);
    should(f.body.ftpPath).equal('p'.repeat(32));
    should(p.frames.length).equal(0);
  });
});
