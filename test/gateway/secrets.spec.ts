/**
 * The OTA FTP password (0x94, docs/protocol.md §5.6) goes to the pile in clear text, as the protocol wants,
 * and nowhere else: the gateway's 'sent' and 'frame' events (decoded and raw hex), encoder errors, and `ykc serve --raw` all show it masked. Real TCP, a scripted pile.
 */
import { PassThrough } from 'stream';
import should from 'should';
import { encodeFrame, maskedHex, YkcError } from '../../src/protocol';
import { FrameEvent, ProblemEvent, YkcServer } from '../../src/gateway';
import { run } from '../../src/cli/serve';
import { CliIo } from '../../src/cli/io';
import { ScriptedPile } from '../support/pile-client';
import { rawFrame } from '../support/raw';

const PILE = '32010200000931';
const SECRET = 'Fw-s3cr3t!';
const SECRET_HEX = Buffer.from(SECRET, 'latin1').toString('hex').toUpperCase();
const loginBody = `${PILE} 00 02 0F 56342E312E353000 01 ${'00'.repeat(10)} 04`;
const OTA_BODY = { pileNo: PILE, pileModel: 1, pilePower: 60, ftpHost: '10.0.0.5', ftpPort: 21, ftpUser: 'fw', ftpPassword: SECRET, ftpPath: '/fw/', runWhen: 1, timeoutMinutes: 5 };
const ascii = (s: string, w: number) => Buffer.from(s.padEnd(w, '\0'), 'latin1').toString('hex').toUpperCase();

describe('gateway: secrets are masked in every report (issue 11.7)', function () {
  this.timeout(10_000);
  let server: YkcServer | undefined;
  const piles: ScriptedPile[] = [];
  afterEach(async () => {
    for (const p of piles.splice(0)) p.close();
    await server?.close();
    server = undefined;
  });

  it("'sent' (decoded + raw) shows ******; the pile gets the real password on the wire", async () => {
    server = new YkcServer({ autoTimeSync: false });
    server.includeRaw = true;
    const port = (await server.listen(0, '127.0.0.1')).port;
    const sent: FrameEvent[] = [];
    server.on('sent', (e) => sent.push(e));
    const p = await ScriptedPile.connect(port);
    piles.push(p);
    p.write(rawFrame(0x01, loginBody, '0100'));
    await p.next(0x02);
    const reply = server.request(PILE, { type: 0x94, body: OTA_BODY }, { timeoutMs: 5000 });
    const got = await p.next(0x94);
    // The wire: the password bytes at body offset 7+1+2+16+2+16 = 44.
    should(got.body.ftpPassword).equal(SECRET);
    const wire = p.raw[p.raw.length - 1].toString('hex').toUpperCase();
    should(wire).containEql(ascii(SECRET, 16));
    p.write(rawFrame(0x93, `${PILE}00`, p.raw[p.raw.length - 1].subarray(2, 4).toString('hex')));
    await reply;
    const ev = sent.find((e) => e.frame.type === 0x94)!;
    should(ev.frame.body.ftpPassword).equal('******');
    should(ev.frame.body.ftpHost).equal('10.0.0.5');
    should(ev.raw).equal(wire.slice(0, 12 + 88) + '2A'.repeat(16) + wire.slice(12 + 88 + 32));
    should(JSON.stringify(sent)).not.containEql(SECRET);
    should(JSON.stringify(sent).toUpperCase()).not.containEql(SECRET_HEX);
  });

  it("a 0x94 arriving from a pile: 'frame' event and raw hex masked", async () => {
    server = new YkcServer({ autoTimeSync: false });
    server.includeRaw = true;
    const port = (await server.listen(0, '127.0.0.1')).port;
    const frames: FrameEvent[] = [];
    const problems: ProblemEvent[] = [];
    server.on('frame', (e) => frames.push(e));
    server.on('problem', (e) => problems.push(e));
    const p = await ScriptedPile.connect(port);
    piles.push(p);
    p.write(rawFrame(0x01, loginBody, '0100'));
    await p.next(0x02);
    const ota = encodeFrame({ type: 0x94, seq: 9, body: OTA_BODY });
    p.write(ota);
    const t0 = Date.now();
    while (!frames.some((f) => f.frame.type === 0x94) && Date.now() - t0 < 5000) await new Promise((r) => setTimeout(r, 20));
    const f = frames.find((x) => x.frame.type === 0x94)!;
    should(f.frame.body.ftpPassword).equal('******');
    should(f.raw).containEql('2A'.repeat(16));
    should(JSON.stringify(frames)).not.containEql(SECRET);
    should(JSON.stringify(problems)).not.containEql(SECRET);
  });

  it('maskedHex: other types and encrypted bodies unchanged; a fragment masked as far as it goes', () => {
    const hb = rawFrame(0x03, `${PILE}0100`, '0000');
    should(maskedHex(hb)).equal(hb.toString('hex').toUpperCase());
    const ota = encodeFrame({ type: 0x94, seq: 1, body: OTA_BODY });
    const enc = Buffer.from(ota);
    enc[4] = 1;
    should(maskedHex(enc)).equal(enc.toString('hex').toUpperCase());
    // 54 bytes: header 6 + 44 body bytes before the password + its first 4 bytes.
    should(maskedHex(ota.subarray(0, 54))).equal(ota.subarray(0, 50).toString('hex').toUpperCase() + '2A2A2A2A');
  });

  it('an encoder error about the password names the field, never the value', () => {
    for (const ftpPassword of ['x'.repeat(17) + SECRET, SECRET + 'ä€', 42]) {
      try {
        encodeFrame({ type: 0x94, seq: 1, body: { ...OTA_BODY, ftpPassword } });
        should.fail(null, null, 'accepted');
      } catch (e) {
        should(e).be.instanceOf(YkcError);
        should((e as YkcError).message).containEql('ftpPassword');
        should(JSON.stringify({ m: (e as YkcError).message, d: (e as YkcError).details })).not.containEql(SECRET).and.not.containEql('42');
      }
    }
  });

  it('ykc serve --raw: a 0x94 frame line shows ****** and 2A bytes, never the password', async () => {
    const out: string[] = [];
    let stop: () => void = () => {};
    const io: CliIo = { out: (l) => out.push(l), err: () => {}, stdin: new PassThrough(), onStop: (cb) => (stop = cb) };
    const done = run(['--host', '127.0.0.1', '--port', '0', '--raw', '--no-time-sync'], io);
    const t0 = Date.now();
    while (!out.length && Date.now() - t0 < 5000) await new Promise((r) => setTimeout(r, 10));
    const p = await ScriptedPile.connect(JSON.parse(out[0]).port);
    piles.push(p);
    p.write(rawFrame(0x01, loginBody, '0100'));
    await p.next(0x02);
    p.write(encodeFrame({ type: 0x94, seq: 3, body: OTA_BODY }));
    const t1 = Date.now();
    while (!out.some((l) => l.includes('"ftpHost"')) && Date.now() - t1 < 5000) await new Promise((r) => setTimeout(r, 10));
    p.close();
    stop();
    should(await done).equal(0);
    const line = out.find((l) => l.includes('"ftpHost"'))!;
    should(line).containEql('"ftpPassword":"******"').and.containEql('2A'.repeat(16));
    should(out.join('\n')).not.containEql(SECRET);
    should(out.join('\n').toUpperCase()).not.containEql(SECRET_HEX);
  });
});
