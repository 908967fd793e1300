/**
 * Capture and replay: a virtual pile's real session against gateway A is captured (GatewayTap, as
 * the editor's sidebar does), written as a capture file, and `ykc replay` plays it as that pile
 * against other gateways over TCP: the same configuration answers the same (exit 0), a different
 * tariff or a refusing allowlist shows up as differences (exit 1); the replayed pile answers nothing
 * it was not recorded sending; broken captures and bad options are refused (exit 2).
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { PassThrough } from 'stream';
import should from 'should';
import { main } from '../../src/cli/main';
import { CliIo } from '../../src/cli/io';
import { DEFAULT_TARIFF } from '../../src/billing';
import { GatewayOptions, YkcServer } from '../../src/gateway';
import { GatewayTap } from '../../src/gateway/tap';
import { VirtualPile } from '../../src/simulator';
import { sampleTariff } from '../simulator/platform';

function fakeIo() {
  const out: string[] = [];
  const err: string[] = [];
  const io: CliIo = { out: (l) => out.push(l), err: (l) => err.push(l), stdin: new PassThrough(), onStop: () => {} };
  return { io, out, err, json: () => out.map((l) => JSON.parse(l)) };
}

const PILE = '32010200000951';
type TariffBody = Parameters<YkcServer['setTariff']>[1];

async function gateway(opts: Partial<GatewayOptions> = {}, modelCode = '0100'): Promise<{ gw: YkcServer; port: number }> {
  const gw = new YkcServer({ autoTimeSync: false, ...opts });
  gw.setTariff(null, sampleTariff(modelCode).toBody() as unknown as TariffBody);
  const port = (await gw.listen(0, '127.0.0.1')).port;
  return { gw, port };
}

describe('cli: ykc replay (capture → another gateway)', function () {
  this.timeout(30_000);
  let dir: string;
  let capture: string;
  const closers: Array<() => Promise<unknown>> = [];

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ykc-replay-'));
    capture = path.join(dir, 'pile.jsonl');
    // Record: a pile logs in, checks and fetches its model, heartbeats, answers a realtime read.
    const { gw, port } = await gateway();
    const tap = new GatewayTap(() => gw, { frames: () => {}, piles: () => {} });
    tap.watch('test');
    const pile = new VirtualPile({ port, pileNo: PILE, speed: 20, seed: 3, guns: 1 });
    pile.connect();
    await pile.waitOnline();
    await new Promise((r) => setTimeout(r, 1200)); // a heartbeat at 20× (10 s → 0.5 s)
    await gw.request(PILE, { type: 0x12, body: { pileNo: PILE, gunNo: 1 } });
    await pile.close();
    fs.writeFileSync(capture, tap.capture(PILE) + '\n');
    tap.close();
    await gw.close();
  });
  afterEach(async () => {
    for (const c of closers.splice(0)) await c();
  });

  it('the capture holds the session both ways', () => {
    const lines = fs.readFileSync(capture, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    const kinds = lines.map((l) => `${l.dir}:${l.type}`);
    should(kinds).containDeep(['in:1', 'out:2', 'in:3', 'out:4', 'out:18', 'in:19']);
  });

  it('against a gateway configured the same: every answer matches, exit 0; the 0x12 the recording platform sent is not replayed', async () => {
    const { gw, port } = await gateway();
    closers.push(() => gw.close());
    const f = fakeIo();
    const code = await main(['replay', capture, '--port', String(port), '--speed', '20', '--quiet'], f.io);
    const report = f.json().find((e) => e.event === 'report');
    should(report).containEql({ pileNo: PILE, differs: 0, missing: 0 });
    should(report.matched).be.above(2);
    should(code).equal(0, f.out.join('\n'));
  });

  it('against a gateway with another tariff: the model it hands out differs, exit 1', async () => {
    const { gw, port } = await gateway({}, '0200');
    closers.push(() => gw.close());
    const f = fakeIo();
    const code = await main(['replay', capture, '--port', String(port), '--speed', '0', '--quiet'], f.io);
    should(code).equal(1);
    const diffs = f.json().filter((e) => e.event === 'differs');
    const model = diffs.find((d) => d.name === 'billingModel');
    should(model.request).equal('0x09 billingModelRequest');
    should(model.fields).containEql({ field: 'modelCode', captured: '0100', got: '0200' });
  });

  it('against a gateway whose allowlist refuses the pile: the login answer differs, later answers are missing', async () => {
    const { gw, port } = await gateway({ loginPolicy: 'allowlist', allowlist: ['32010200000000'] });
    closers.push(() => gw.close());
    const f = fakeIo();
    const code = await main(['replay', capture, '--port', String(port), '--speed', '0', '--answer-timeout', '0.5', '--quiet'], f.io);
    should(code).equal(1);
    const events = f.json();
    const login = events.find((e) => e.event === 'differs' && e.name === 'loginReply');
    should(login.fields).containEql({ field: 'result', captured: 0, got: 1 });
    should(events.find((e) => e.event === 'report').missing).be.above(0);
  });

  it('answers nothing by itself: a gateway that pushes time sync gets no reply and the push is reported as extra', async () => {
    const { gw, port } = await gateway({ autoTimeSync: true, timeSyncJitterMs: 0 });
    closers.push(() => gw.close());
    const answered: number[] = [];
    gw.on('frame', (ev) => answered.push(ev.frame.type));
    const f = fakeIo();
    await main(['replay', capture, '--port', String(port), '--speed', '5', '--quiet'], f.io);
    should(f.json().some((e) => e.event === 'extra' && e.name === 'timeSync')).be.true();
    should(answered).not.containEql(0x55);
  });

  it('ykc serve --capture writes the same format; ykc decode reads it; the capture replays against another gateway', async () => {
    const file = path.join(dir, 'served.jsonl');
    const served = fakeIo();
    let stop: () => void = () => {};
    served.io.onStop = (cb) => (stop = cb);
    const running = main(['serve', '--host', '127.0.0.1', '--port', '0', '--capture', file, '--no-time-sync'], served.io);
    const until = async (pred: () => boolean) => {
      for (let i = 0; i < 200 && !pred(); i++) await new Promise((r) => setTimeout(r, 20));
    };
    await until(() => served.out.length > 0);
    const port = JSON.parse(served.out[0]).port as number;
    const pile = new VirtualPile({ port, pileNo: PILE, speed: 20, seed: 4, guns: 1 });
    pile.connect();
    await pile.waitOnline();
    await new Promise((r) => setTimeout(r, 800));
    await pile.close();
    stop();
    should(await running).equal(0);
    const lines = fs.readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    should(lines.map((l) => `${l.dir}:${l.type}`)).containDeep(['in:1', 'out:2', 'in:9', 'out:10', 'in:3', 'out:4']);
    should(lines.every((l) => typeof l.at === 'string' && l.pileNo === PILE && /^68/.test(l.hex))).be.true();

    const decoded = fakeIo();
    should(await main(['decode', file], decoded.io)).equal(0);
    const frames = decoded.json();
    should(frames).have.length(lines.length);
    should(frames[0]).containEql({ dir: 'in', pileNo: PILE });
    should(frames[0].frame).containEql({ type: 1, name: 'login' });

    // serve answers with its built-in tariff; a gateway with that tariff answers the same.
    const gw = new YkcServer({ autoTimeSync: false });
    gw.setTariff(null, DEFAULT_TARIFF);
    const other = (await gw.listen(0, '127.0.0.1')).port;
    closers.push(() => gw.close());
    const replayed = fakeIo();
    should(await main(['replay', file, '--port', String(other), '--speed', '0', '--quiet'], replayed.io)).equal(0, replayed.out.join('\n'));
  });

  it('a frame the recording gateway could not read (listed as unreadable) is played as it came, and answered by nothing', async () => {
    const file = path.join(dir, 'with-bad.jsonl');
    const lines = fs.readFileSync(capture, 'utf8').trim().split('\n');
    const first = JSON.parse(lines[0]);
    // A heartbeat with a wrong CRC, as the sidebar captures it.
    const bad = Buffer.from(lines.map((l) => JSON.parse(l)).find((l) => l.type === 3).hex, 'hex');
    bad[bad.length - 1] ^= 0xff;
    const unreadable = { at: first.at, dir: 'in', pileNo: PILE, hex: bad.toString('hex').toUpperCase(), type: 3, name: 'unreadable' };
    fs.writeFileSync(file, [lines[0], lines[1], JSON.stringify(unreadable)].join('\n') + '\n');
    const { gw, port } = await gateway();
    closers.push(() => gw.close());
    const crc: string[] = [];
    gw.on('problem', (p) => p.code === 'YKC_CRC' && crc.push(String(p.details?.frameHex)));
    const f = fakeIo();
    should(await main(['replay', file, '--port', String(port), '--speed', '0', '--quiet'], f.io)).equal(0, f.out.join('\n') + f.err.join('\n'));
    for (let i = 0; i < 50 && !crc.length; i++) await new Promise((r) => setTimeout(r, 20));
    should(crc).eql([unreadable.hex]);
  });

  it('refuses a broken capture (file:line), unknown options and a closed port', async () => {
    const broken = path.join(dir, 'broken.jsonl');
    fs.writeFileSync(broken, fs.readFileSync(capture, 'utf8').split('\n')[0] + '\n{"dir":"in","hex":"zz"}\n');
    let f = fakeIo();
    should(await main(['replay', broken, '--port', '1'], f.io)).equal(2);
    should(JSON.parse(f.err[0]).message).match(/broken\.jsonl:2: .*hex/);
    f = fakeIo();
    should(await main(['replay', capture, '--port', '1', '--prot', '2'], f.io)).equal(2);
    should(JSON.parse(f.err[0]).message).match(/unknown option --prot/);
    const { gw, port } = await gateway();
    await gw.close();
    f = fakeIo();
    should(await main(['replay', capture, '--port', String(port)], f.io)).equal(1);
    should(JSON.parse(f.err[0]).code).equal('YKC_OFFLINE');
  });
});
