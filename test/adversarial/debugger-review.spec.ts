/**
 * Outside review of the protocol debugger (issue 15): the tap across a gateway replaced under it,
 * a flood, many watchers; captures with CRLF, a broken frame inside valid JSON, frames of unknown
 * types; replay against a gateway that answers garbage, late or never, and a capture of two piles.
 */
import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import { PassThrough } from 'stream';
import should from 'should';
import { main } from '../../src/cli/main';
import { CliIo } from '../../src/cli/io';
import { YkcServer } from '../../src/gateway';
import { GatewayTap, TapBatch } from '../../src/gateway/tap';
import { encodeFrame } from '../../src/protocol';
import { VirtualPile } from '../../src/simulator';
import { sampleTariff } from '../simulator/platform';

type TariffBody = Parameters<YkcServer['setTariff']>[1];
const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

function fakeIo() {
  const out: string[] = [];
  const err: string[] = [];
  const io: CliIo = { out: (l) => out.push(l), err: (l) => err.push(l), stdin: new PassThrough(), onStop: () => {} };
  return { io, out, err };
}

async function until(cond: () => boolean, ms: number, what: string): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await wait(25);
  }
}

async function gateway(): Promise<{ gw: YkcServer; port: number }> {
  const gw = new YkcServer({ autoTimeSync: false });
  gw.setTariff(null, sampleTariff('0100').toBody() as unknown as TariffBody);
  const port = (await gw.listen(0, '127.0.0.1')).port;
  return { gw, port };
}

const EVENTS = ['frame', 'record', 'sent', 'online', 'offline', 'gunState'] as const;
const listeners = (gw: YkcServer) => EVENTS.reduce((n, e) => n + gw.listenerCount(e), 0);

describe('adversarial: protocol debugger (tap, capture, replay)', function () {
  this.timeout(60_000);
  const closers: Array<() => Promise<unknown> | void> = [];
  afterEach(async () => {
    for (const c of closers.splice(0).reverse()) await c();
  });

  it('tap: the gateway goes away (redeploy) and a new one comes: the tap follows it without a lease renewal', async () => {
    const a = await gateway();
    closers.push(() => a.gw.close());
    let current: YkcServer | null = a.gw;
    const batches: TapBatch[] = [];
    const tap = new GatewayTap(() => current, { frames: (b) => batches.push(b), piles: () => {} }, { batchMs: 20, leaseMs: 20_000 });
    closers.push(() => tap.close());
    tap.watch('editor');
    should(listeners(a.gw)).be.above(0);
    // The redeploy: the old node is closed (no gateway for a moment), then the new one starts.
    current = null;
    await wait(1500);
    should(listeners(a.gw)).equal(0);
    const b = await gateway();
    closers.push(() => b.gw.close());
    current = b.gw;
    const pile = new VirtualPile({ port: b.port, pileNo: '32010200000971', speed: 20, seed: 1, guns: 1 });
    closers.push(() => pile.close());
    pile.connect();
    await pile.waitOnline();
    // No watch() call since: the open tab renews every 10 s, the lease is 20 s.
    // (The tap checks its gateway once a second: the login may come before; heartbeats follow every 0.5 s.)
    await until(() => batches.some((x) => x.frames.some((f) => f.pileNo === '32010200000971')), 5000, 'frames of the new gateway');
    should(tap.watching).be.true();
  });

  it('tap: a flood keeps the buffer and the batches bounded; ending the lease lets go at once', async () => {
    const { gw, port } = await gateway();
    closers.push(() => gw.close());
    const batches: TapBatch[] = [];
    const tap = new GatewayTap(() => gw, { frames: (b) => batches.push(b), piles: () => {} }, { maxFrames: 300, maxBatch: 50, batchMs: 50 });
    closers.push(() => tap.close());
    tap.watch('one');
    tap.watch('two');
    const pile = new VirtualPile({ port, pileNo: '32010200000972', speed: 20, seed: 2, guns: 1 });
    closers.push(() => pile.close());
    pile.connect();
    await pile.waitOnline();
    // 600 reads (the gateway lets 32 wait per pile): 1200 frames both ways in a few seconds.
    for (let round = 0; round < 20; round++) {
      await Promise.all(Array.from({ length: 30 }, () => gw.request('32010200000972', { type: 0x12, body: { pileNo: '32010200000972', gunNo: 1 } }, { timeoutMs: 20_000 })));
    }
    await wait(200);
    should(tap.recent().length).be.belowOrEqual(300 * 1.25);
    for (const x of batches) should(x.frames.length).be.belowOrEqual(50);
    const seen = batches.reduce((n, x) => n + x.frames.length + x.skipped, 0);
    should(seen).be.aboveOrEqual(1200); // every frame both ways is shown or counted
    tap.unwatch('one');
    should(listeners(gw)).be.above(0);
    tap.unwatch('two');
    should(listeners(gw)).equal(0);
    should(tap.recent()).have.length(0);
  });

  it('tap: watcher names are bounded (a client inventing one per request cannot grow the lease table)', async () => {
    const { gw } = await gateway();
    closers.push(() => gw.close());
    const tap = new GatewayTap(() => gw, { frames: () => {}, piles: () => {} }, { maxWatchers: 3 });
    closers.push(() => tap.close());
    for (const w of ['a', 'b', 'c', 'a']) tap.watch(w);
    should(() => tap.watch('d')).throw({ code: 'YKC_LIMIT' });
    tap.unwatch('b');
    should(tap.watch('d')).be.true();
  });

  describe('captures and replay', () => {
    let dir: string;
    before(() => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ykc-dbg-review-'));
    });
    after(() => fs.rmSync(dir, { recursive: true, force: true }));

    const PILE_A = '32010200000981';
    const PILE_B = '32010200000982';
    const hex = (f: Parameters<typeof encodeFrame>[0]) => encodeFrame(f).toString('hex').toUpperCase();
    const login = (pileNo: string, seq = 0) =>
      hex({ type: 0x01, seq, body: { pileNo, pileType: 0, gunCount: 1, protocolVersion: 1.6, firmwareVersion: 'T', networkType: 1, iccid: '00000000000000000000', carrier: 4 } });
    const heartbeat = (pileNo: string, seq: number) => hex({ type: 0x03, seq, body: { pileNo, gunNo: 1, gunState: 0 } });
    const line = (dir2: 'in' | 'out', pileNo: string | null, h: string, at = '2026-12-04T10:00:00.000Z') => JSON.stringify({ at, dir: dir2, pileNo, hex: h });

    it('ykc decode and ykc replay read a capture with CRLF line ends', async () => {
      const file = path.join(dir, 'crlf.jsonl');
      fs.writeFileSync(file, [line('in', PILE_A, login(PILE_A)), line('out', PILE_A, hex({ type: 0x02, body: { pileNo: PILE_A, result: 0 } }))].join('\r\n') + '\r\n');
      const d = fakeIo();
      should(await main(['decode', file], d.io)).equal(0, d.err.join('\n'));
      should(d.out.length).equal(2);
      const { gw, port } = await gateway();
      closers.push(() => gw.close());
      const r = fakeIo();
      should(await main(['replay', file, '--port', String(port), '--speed', '0', '--quiet'], r.io)).equal(0, r.out.join('\n') + r.err.join('\n'));
    });

    it('ykc replay: a line whose hex is not a frame is refused with its file:line (exit 2), not reported as a gateway that cannot be reached', async () => {
      const file = path.join(dir, 'bad-frame.jsonl');
      fs.writeFileSync(file, [line('in', PILE_A, login(PILE_A)), line('in', PILE_A, '6822000000')].join('\n') + '\n');
      const { gw, port } = await gateway();
      closers.push(() => gw.close());
      const r = fakeIo();
      const code = await main(['replay', file, '--port', String(port), '--speed', '0', '--quiet'], r.io);
      should(code).equal(2, r.err.join('\n'));
      should(r.err.join('\n')).match(/bad-frame\.jsonl:2/);
    });

    it('ykc replay: frames of an unknown type are played as they are, and the capture of two piles plays only the chosen one', async () => {
      const file = path.join(dir, 'two.jsonl');
      const unknown = hex({ type: 0xf5, seq: 3, body: { raw: '0102' } });
      fs.writeFileSync(
        file,
        [
          line('in', PILE_A, login(PILE_A)),
          line('in', PILE_B, login(PILE_B)),
          line('out', PILE_B, hex({ type: 0x02, body: { pileNo: PILE_B, result: 0 } })),
          line('out', PILE_A, hex({ type: 0x02, body: { pileNo: PILE_A, result: 0 } })),
          line('in', PILE_B, heartbeat(PILE_B, 1)),
          line('in', PILE_A, unknown),
          line('in', PILE_A, heartbeat(PILE_A, 2)),
          line('out', PILE_A, hex({ type: 0x04, seq: 2, body: { pileNo: PILE_A, gunNo: 1, reply: 0 } })),
        ].join('\n') + '\n',
      );
      const { gw, port } = await gateway();
      closers.push(() => gw.close());
      const seen: string[] = [];
      gw.on('frame', (e) => seen.push(`${e.pileNo}:${e.frame.type}`));
      const r = fakeIo();
      should(await main(['replay', file, '--port', String(port), '--pile', PILE_A, '--speed', '0', '--quiet'], r.io)).equal(0, r.out.join('\n') + r.err.join('\n'));
      const report = JSON.parse(r.out.at(-1)!);
      should(report).containEql({ pileNo: PILE_A, sent: 3, expected: 2, matched: 2 });
      should(seen.some((s) => s.startsWith(PILE_B))).be.false();
      should(seen).containEql(`${PILE_A}:${0xf5}`);
    });

    it('ykc replay against a gateway that answers garbage, late, or never: missing answers, exit 1, in bounded time', async () => {
      const file = path.join(dir, 'hb.jsonl');
      fs.writeFileSync(
        file,
        [
          line('in', PILE_A, login(PILE_A)),
          line('out', PILE_A, hex({ type: 0x02, body: { pileNo: PILE_A, result: 0 } })),
          line('in', PILE_A, heartbeat(PILE_A, 1), '2026-12-04T10:00:00.100Z'),
          line('out', PILE_A, hex({ type: 0x04, seq: 1, body: { pileNo: PILE_A, gunNo: 1, reply: 0 } })),
        ].join('\n') + '\n',
      );
      // A "gateway" that answers the login with garbage bytes and a login reply 1.5 s late, and never the heartbeat.
      const fake = net.createServer((s) => {
        s.on('error', () => {});
        let n = 0;
        s.on('data', () => {
          if (n++ === 0) {
            s.write(Buffer.from('68FF0102030405060708090A0B0C', 'hex'));
            s.write(Buffer.from('garbage\r\n'));
            setTimeout(() => s.writable && s.write(encodeFrame({ type: 0x02, body: { pileNo: PILE_A, result: 0 } })), 1500);
          }
        });
      });
      await new Promise<void>((r) => fake.listen(0, '127.0.0.1', () => r()));
      closers.push(() => new Promise<void>((r) => fake.close(() => r())));
      const port = (fake.address() as net.AddressInfo).port;
      const r = fakeIo();
      const t0 = Date.now();
      const code = await main(['replay', file, '--port', String(port), '--answer-timeout', '0.5', '--quiet'], r.io);
      should(code).equal(1);
      should(Date.now() - t0).be.below(10_000);
      const events = r.out.map((l) => JSON.parse(l));
      should(events.filter((e) => e.event === 'missing').map((e) => e.type)).eql([0x02, 0x04]);
      // The late login answer is an extra frame, not a crash.
      should(events.at(-1)).containEql({ event: 'report', missing: 2 });
    });
  });
});
