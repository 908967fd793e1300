/**
 * First hour with the command line, as a user types it (the real bin/ykc.js in a child process):
 * an option given without its value must be refused, never read as `true` → 1 (`ykc serve --port`
 * listened on port 1, `--admit-rate` admitted one pile a second, `--allow` let every pile in); a
 * switch never swallows the next argument (`ykc replay --quiet FILE`); and `ykc simulate` without
 * --base does not log in with the npm start demo's pile numbers (that would take over its piles).
 */
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import should from 'should';
import { YkcServer } from '../../src/gateway';
import { REPO_ROOT } from '../support/repo';
import { crc16, frame, login } from './first-hour-pile';

const BIN = path.join(REPO_ROOT, 'bin', 'ykc.js');

interface Ran {
  code: number | null;
  out: string;
  err: string;
}

/** Runs `ykc …`; a command still running after `killAfterMs` gets SIGINT (the serve/simulate stop). */
function ykc(args: string[], killAfterMs = 8000): Promise<Ran> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    const t = setTimeout(() => child.kill('SIGINT'), killAfterMs);
    child.on('exit', (code) => {
      clearTimeout(t);
      resolve({ code, out, err });
    });
  });
}

const firstJson = (text: string): Record<string, unknown> => JSON.parse(text.split('\n').find((l) => l.startsWith('{'))!);

describe('first hour: the CLI refuses options without their value', function () {
  this.timeout(60_000);

  const cases: Array<[string, string[], RegExp]> = [
    ['serve --port (listened on port 1)', ['serve', '--port'], /--port needs a value/],
    ['serve --admit-rate (admitted 1 pile/s)', ['serve', '--port', '0', '--admit-rate'], /--admit-rate needs a value/],
    ['serve --allow (allowed every pile)', ['serve', '--port', '0', '--allow'], /--allow needs a value/],
    ['serve --allow followed by another option', ['serve', '--allow', '--port', '0'], /--allow needs a value/],
    ['serve --host', ['serve', '--port', '0', '--host'], /--host needs a value/],
    ['serve --confirm', ['serve', '--port', '0', '--confirm'], /--confirm needs a value/],
    ['serve --raw=yes (a switch with a value)', ['serve', '--port', '0', '--raw=yes'], /--raw takes no value/],
    ['simulate --port', ['simulate', '--port'], /--port needs a value/],
    ['simulate --piles', ['simulate', '--port', '28768', '--piles'], /--piles needs a value/],
    ['simulate --base', ['simulate', '--port', '28768', '--base'], /--base needs a value/],
    ['replay --port', ['replay', 'x.jsonl', '--port'], /--port needs a value/],
  ];
  for (const [what, args, message] of cases) {
    it(`${what}: exit 2, JSON error on stderr, nothing started`, async () => {
      const r = await ykc(args);
      should(r.code).equal(2, `exit code of ykc ${args.join(' ')}; stdout: ${r.out}`);
      should(r.out).not.match(/"event":"listening"/);
      const e = firstJson(r.err);
      should(e.code).equal('YKC_INPUT');
      should(String(e.message)).match(message);
    });
  }

  it('replay --quiet FILE --port P: the switch does not swallow the capture file (it was "give exactly one capture file")', async () => {
    const gw = new YkcServer({ autoTimeSync: false });
    const port = (await gw.listen(0, '127.0.0.1')).port;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'first-hour-cli-'));
    try {
      // A capture by hand: the pile's login and the gateway's 0x02 "accepted" with the same seq.
      const pileNo = '32019900000501';
      const reply = frame(0x02, Buffer.concat([Buffer.from(pileNo, 'hex'), Buffer.from([0x00])]));
      should(reply[reply.length - 2] | (reply[reply.length - 1] << 8)).equal(crc16(reply, 2, reply.length - 2));
      const at = new Date().toISOString();
      const file = path.join(dir, 'login.jsonl');
      fs.writeFileSync(file, [
        JSON.stringify({ at, dir: 'in', pileNo, hex: login(pileNo).toString('hex') }),
        JSON.stringify({ at, dir: 'out', pileNo, hex: reply.toString('hex') }),
      ].join('\n') + '\n');
      const r = await ykc(['replay', '--quiet', file, '--port', String(port), '--speed', '0'], 20_000);
      should(r.err).not.match(/give exactly one capture file/);
      should(r.code).equal(0, `stderr: ${r.err}\nstdout: ${r.out}`);
    } finally {
      await gw.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('simulate without --base logs in with pile numbers none of the demo piles (DEMO_PILES) use', async () => {
    const demo = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'examples', 'demo.json'), 'utf8')) as Array<{ type: string; env?: Array<{ name: string; value: string }> }>;
    const demoPiles = demo.find((n) => n.type === 'tab')!.env!.find((e) => e.name === 'DEMO_PILES')!.value.split(',');
    should(demoPiles.length).equal(3);
    const gw = new YkcServer({ autoTimeSync: false });
    const logins: string[] = [];
    gw.on('login', (e) => {
      if (e.pileNo) logins.push(e.pileNo);
    });
    const port = (await gw.listen(0, '127.0.0.1')).port;
    try {
      const r = await ykc(['simulate', '--port', String(port), '--piles', '3', '--duration', '2', '--quiet'], 20_000);
      should(r.code).equal(0, r.err);
      should(logins.length).be.aboveOrEqual(3);
      for (const p of logins) should(demoPiles).not.containEql(p);
    } finally {
      await gw.close();
    }
  });

  it('encode: a misspelt frame key ("sequence" went out as seq 0) and a type and name that disagree (the type won) are refused; a decoded frame still encodes', async () => {
    const body = { pileNo: '32010200000001', gunNo: 1, reply: 0 };
    const typo = await ykc(['encode', JSON.stringify({ name: 'heartbeatReply', sequence: 7, body })]);
    should(typo.code).equal(1);
    should(firstJson(typo.err)).containEql({ code: 'YKC_FIELD', field: 'sequence' });
    const both = await ykc(['encode', JSON.stringify({ type: 4, name: 'loginReply', seq: 1, body })]);
    should(both.code).equal(1);
    should(firstJson(both.err)).containEql({ code: 'YKC_FIELD', field: 'name' });
    const agree = await ykc(['encode', JSON.stringify({ type: '0x04', name: 'heartbeatReply', seq: 1, body })]);
    should(agree.code).equal(0, agree.err);
    // What `ykc decode` prints (type, name, seq, encrypted, crcOrder, body) is a valid input.
    const decoded = await ykc(['decode', agree.out.trim()]);
    should(decoded.code).equal(0, decoded.err);
    const again = await ykc(['encode', decoded.out.trim()]);
    should(again.code).equal(0, again.err);
    should(again.out.trim()).equal(agree.out.trim());
  });

  it('-h prints the usage and exits 0 for serve, simulate and replay too (it was "unexpected argument -h", exit 2)', async () => {
    for (const c of ['serve', 'simulate', 'replay', 'decode', 'encode']) {
      const r = await ykc([c, '-h']);
      should(r.code).equal(0, `ykc ${c} -h: ${r.err}`);
      should(r.out).match(new RegExp(`usage: ykc ${c}`));
    }
  });
});
