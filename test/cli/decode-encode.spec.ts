/**
 * `ykc decode` / `ykc encode`, run in-process through main() with a fake CliIo (the real
 * bin/ykc.js needs a built dist/, tested once at the end when it exists).
 */
import { execFile } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { Readable } from 'stream';
import should from 'should';
import { main } from '../../src/cli/main';
import { CliIo } from '../../src/cli/io';
import { REPO_ROOT } from '../support/repo';
import { handFrame } from '../protocol/hand/support';

interface Ran {
  code: number;
  out: string[];
  err: string[];
}

async function ykc(args: string[], stdin = ''): Promise<Ran> {
  const r: Omit<Ran, 'code'> = { out: [], err: [] };
  const io: CliIo = {
    out: (l) => r.out.push(l),
    err: (l) => r.err.push(l),
    stdin: Readable.from([stdin]),
    onStop: () => {},
  };
  const code = await main(args, io);
  return { code, ...r };
}

// Official 0x02 example, whose CRC is right (docs/protocol.md §2.1).
const LOGIN_REPLY = '680C000000025503141278230500DA4C';
const LOGIN_REPLY_SPACED = '68 0C 00 00 00 02 55 03 14 12 78 23 05 00 DA 4C';
// Real pile login (tenyks capture).
const LOGIN = '6822000000011000100100000101010F312E31302E323300010000000000000000000004D1AA';
// Official 0x03 example: its CRC (68 90) is wrong.
const HEARTBEAT_BAD_CRC = '680D000100033201020000000101006890';

describe('cli: ykc decode / ykc encode', () => {
  it('decode <hex> prints the decoded frame as JSON and exits 0', async () => {
    const r = await ykc(['decode', LOGIN_REPLY]);
    should(r.code).equal(0);
    should(r.err).be.empty();
    should(r.out.length).equal(1);
    should(JSON.parse(r.out[0])).deepEqual({
      type: 2,
      name: 'loginReply',
      seq: 0,
      encrypted: false,
      crcOrder: 'lo-first',
      body: { pileNo: '55031412782305', result: 0, resultName: 'accepted' },
    });
  });

  it('decode takes hex split over several arguments (spaces)', async () => {
    const joined = await ykc(['decode', LOGIN_REPLY_SPACED]);
    const split = await ykc(['decode', ...LOGIN_REPLY_SPACED.split(' ')]);
    should(split.code).equal(0);
    should(split.out).deepEqual(joined.out);
  });

  it('a bad CRC: JSON error with code YKC_CRC on stderr, exit 1; --no-crc decodes it', async () => {
    const r = await ykc(['decode', HEARTBEAT_BAD_CRC]);
    should(r.code).equal(1);
    should(r.out).be.empty();
    const e = JSON.parse(r.err[0]);
    should(e).have.properties({ code: 'YKC_CRC', type: 3, crcReceived: '6890', crcExpected: 'F11A' });
    should(e.message).match(/CRC/);
    const ok = await ykc(['decode', '--no-crc', HEARTBEAT_BAD_CRC]);
    should(ok.code).equal(0);
    should(JSON.parse(ok.out[0])).containDeep({ type: 3, crcValid: false, body: { pileNo: '32010200000001', gunNo: 1 } });
  });

  it('--pretty indents; --strict refuses surplus bytes', async () => {
    const r = await ykc(['decode', '--pretty', LOGIN]);
    should(r.out[0]).match(/\n {2}"type": 1,/);
    should(JSON.parse(r.out[0]).body.firmwareVersion).equal('1.10.23');
    const extra = handFrame(0x03, '32010200000001 01 00 55'); // heartbeat + one vendor byte
    const loose = await ykc(['decode', extra]);
    should(JSON.parse(loose.out[0]).body.extra).equal('55');
    const strict = await ykc(['decode', '--strict', extra]);
    should(strict.code).equal(1);
    should(JSON.parse(strict.err[0]).code).equal('YKC_LENGTH');
  });

  it('not hex, or a wrong length: YKC_INPUT / YKC_LENGTH, exit 1', async () => {
    const a = await ykc(['decode', '68 0C zz']);
    should(a.code).equal(1);
    should(JSON.parse(a.err[0]).code).equal('YKC_INPUT');
    const b = await ykc(['decode', LOGIN_REPLY + '00']);
    should(b.code).equal(1);
    should(JSON.parse(b.err[0])).containDeep({ code: 'YKC_LENGTH', lengthByte: 12, length: 17 });
  });

  it('decode - reads stdin: one JSON line per frame, errors on stderr with their line, exit 1 if any failed', async () => {
    const input = [LOGIN_REPLY, '', '# a comment', LOGIN_REPLY_SPACED, HEARTBEAT_BAD_CRC, LOGIN].join('\n') + '\n';
    const r = await ykc(['decode', '-'], input);
    should(r.code).equal(1);
    should(r.out.length).equal(3);
    should(r.out.map((l) => JSON.parse(l).type)).deepEqual([2, 2, 1]);
    should(r.err.length).equal(1);
    should(JSON.parse(r.err[0])).containDeep({ code: 'YKC_CRC', line: 5 });
    const clean = await ykc(['decode', '-'], `${LOGIN}\r\n${LOGIN_REPLY}\r\n`);
    should(clean.code).equal(0);
    should(clean.out.length).equal(2);
  });

  it('encode <json> prints upper-case hex, exit 0; a decoded frame encodes back to its bytes', async () => {
    const r = await ykc(['encode', '{"name":"loginReply","seq":0,"body":{"pileNo":"55031412782305","result":0}}']);
    should(r.code).equal(0);
    should(r.out).deepEqual([LOGIN_REPLY]);
    const decoded = await ykc(['decode', LOGIN]);
    const again = await ykc(['encode', decoded.out[0]]);
    should(again.out).deepEqual([LOGIN]);
    const spaced = await ykc(['encode', '--spaced', decoded.out[0]]);
    should(spaced.out[0]).equal(LOGIN.replace(/(..)(?!$)/g, '$1 '));
  });

  it('encode takes JSON split over arguments, and an array of frames', async () => {
    const r = await ykc(['encode', '{"type":"0x02",', '"body":{"pileNo":"55031412782305","result":"accepted"}}']);
    should(r.out).deepEqual([LOGIN_REPLY]);
    const two = await ykc(['encode', JSON.stringify([{ type: 2, body: { pileNo: '55031412782305', result: 0 } }, { type: 9, seq: 1, body: { pileNo: '00000000000001' } }])]);
    should(two.code).equal(0);
    should(two.out.length).equal(2);
    should(two.out[0]).equal(LOGIN_REPLY);
  });

  it('encode errors: invalid JSON → YKC_INPUT, a bad field → YKC_FIELD naming it, unknown name → YKC_UNKNOWN_TYPE; exit 1', async () => {
    const a = await ykc(['encode', '{"name":']);
    should(a.code).equal(1);
    should(JSON.parse(a.err[0]).code).equal('YKC_INPUT');
    const b = await ykc(['encode', '{"name":"loginReply","body":{"pileNo":"550314127823051","result":0}}']);
    should(b.code).equal(1);
    should(JSON.parse(b.err[0])).containDeep({ code: 'YKC_FIELD', field: 'pileNo', value: '550314127823051' });
    const c = await ykc(['encode', '{"name":"launchRocket","body":{}}']);
    should(JSON.parse(c.err[0])).containDeep({ code: 'YKC_UNKNOWN_TYPE', name: 'launchRocket' });
  });

  it('decode - | encode - gives the input back', async () => {
    const frames = [LOGIN, LOGIN_REPLY, '68A28001003B18220000000155021673797553635328182200000001550208CF1C16170A19D0841517170A19400D0300000000000000000000000000400D0300000000000000000000000000400D0300000000000000000000000000A85B01007375000000000000876800000A000000007D75000000737500000000000087680000000000000000000000000000000000000001D0841517170A19450000000000000000A5B3'];
    const d = await ykc(['decode', '-'], frames.join('\n'));
    should(d.code).equal(0);
    const e = await ykc(['encode', '-'], d.out.join('\n') + '\n' + '{"bad json\n');
    should(e.code).equal(1);
    should(e.out).deepEqual(frames);
    should(JSON.parse(e.err[0])).containDeep({ code: 'YKC_INPUT', line: 4 });
  });

  it('encode refuses what the nodes refuse: an unknown body field, a 13-digit pile (exit 1, YKC_FIELD naming it)', async () => {
    for (const [body, field] of [
      [{ pileNo: '3201020000000', gunNo: 1 }, 'pileNo'],
      [{ pileNo: '32010200000001', gunNo: 1, gun: 2 }, 'gun'],
    ] as const) {
      const r = await ykc(['encode', JSON.stringify({ name: 'remoteStop', body })]);
      should(r.code).equal(1);
      const e = JSON.parse(r.err[0]);
      should(e.code).equal('YKC_FIELD');
      should(e.message).containEql(`"${field}"`);
    }
  });

  it('an unknown command, also one Object.prototype has (constructor, __proto__, toString) → exit 2, JSON error', async () => {
    for (const cmd of ['frobnicate', 'constructor', '__proto__', 'toString', 'hasOwnProperty']) {
      const r = await ykc([cmd]);
      should(r.code).equal(2);
      should(JSON.parse(r.err[0])).containEql({ code: 'YKC_INPUT' });
      should(JSON.parse(r.err[0]).message).containEql(`unknown command "${cmd}"`);
    }
  });

  it('multi-megabyte hex on stdin: a JSON error (YKC_INPUT / YKC_START), no stack overflow', async () => {
    const odd = await ykc(['decode', '-'], '6'.repeat(6_000_001));
    should(odd.code).equal(1);
    should(JSON.parse(odd.err[0]).code).equal('YKC_INPUT');
    const even = await ykc(['decode', '-'], '00'.repeat(3_000_000));
    should(even.code).equal(1);
    should(JSON.parse(even.err[0]).code).equal('YKC_START');
  });

  it('usage: no frame or an unknown option → exit 2; --help → exit 0', async () => {
    should((await ykc(['decode'])).code).equal(2);
    const u = await ykc(['decode', '--frobnicate', LOGIN]);
    should(u.code).equal(2);
    should(JSON.parse(u.err[0]).message).match(/--frobnicate/);
    should((await ykc(['encode'])).code).equal(2);
    const h = await ykc(['decode', '--help']);
    should(h.code).equal(0);
    should(h.out[0]).match(/usage: ykc decode/);
    should((await ykc(['encode', '-h'])).out[0]).match(/usage: ykc encode/);
  });

  describe('the real bin/ykc.js (needs a built dist/)', function () {
    this.timeout(20_000);
    const built = fs.existsSync(path.join(REPO_ROOT, 'dist', 'src', 'cli', 'decode.js'));
    (built ? it : it.skip)('decodes a frame and reports an error with exit codes 0 and 1', async () => {
      const run = (args: string[]): Promise<{ code: number; stdout: string; stderr: string }> =>
        new Promise((resolve) => {
          execFile(process.execPath, [path.join(REPO_ROOT, 'bin', 'ykc.js'), ...args], { timeout: 15_000 }, (err, stdout, stderr) => {
            resolve({ code: err ? Number((err as NodeJS.ErrnoException & { code?: number }).code ?? 1) : 0, stdout, stderr });
          });
        });
      const ok = await run(['decode', ...LOGIN_REPLY_SPACED.split(' ')]);
      should(ok.code).equal(0);
      should(JSON.parse(ok.stdout).body.pileNo).equal('55031412782305');
      const bad = await run(['decode', HEARTBEAT_BAD_CRC]);
      should(bad.code).equal(1);
      should(JSON.parse(bad.stderr).code).equal('YKC_CRC');
    });
  });
});
