/**
 * Per-connection and per-pile bounds, over real TCP with a raw-socket client that builds and reads
 * frames byte by byte (test/support/raw.ts; no project codec on the client side): the input rate
 * limit, one pile per connection, and the per-pile state of piles gone offline.
 */
import * as net from 'net';
import should from 'should';
import { ProblemEvent, YkcServer } from '../../src/gateway';
import { GatewayOptions } from '../../src/gateway/options';
import { crcBitwise, rawFrame } from '../support/raw';
import { PassThrough } from 'stream';
import { run as serve } from '../../src/cli/serve';
import { CliIo } from '../../src/cli/io';

const login = (pile: string) => rawFrame(0x01, `${pile}0002 0F 56342E312E353000 01 ${'00'.repeat(10)} 04`, '0000');
const heartbeat = (pile: string, seq = 0) => rawFrame(0x03, `${pile}0100`, Buffer.from([seq & 0xff, (seq >> 8) & 0xff]).toString('hex'));

interface RawReply {
  type: number;
  seq: number;
  body: Buffer;
}

/** A pile as bytes on a socket: frames out as given, frames in split by hand (start byte, length, own CRC check). */
export class RawPile {
  readonly frames: RawReply[] = [];
  closed = false;
  private buf = Buffer.alloc(0);
  private wake: (() => void) | null = null;

  /** This end's address as the gateway sees it (kept: a destroyed socket forgets its port). */
  readonly address: string;

  private constructor(readonly sock: net.Socket) {
    this.address = `${sock.localAddress}:${sock.localPort}`;
    sock.on('data', (d) => {
      this.buf = Buffer.concat([this.buf, d]);
      for (;;) {
        const start = this.buf.indexOf(0x68);
        if (start < 0 || this.buf.length < start + 2) break;
        const len = this.buf[start + 1];
        if (this.buf.length < start + 4 + len) break;
        const frame = this.buf.subarray(start, start + 4 + len);
        this.buf = this.buf.subarray(start + 4 + len);
        const inner = frame.subarray(2, 2 + len);
        const crc = frame[2 + len] | (frame[3 + len] << 8);
        if (crc !== crcBitwise(inner)) throw new Error(`bad CRC from the gateway: ${frame.toString('hex')}`);
        this.frames.push({ seq: inner[0] | (inner[1] << 8), type: inner[3], body: Buffer.from(inner.subarray(4)) });
      }
      this.wake?.();
    });
    sock.on('error', () => {});
    sock.on('close', () => {
      this.closed = true;
      this.wake?.();
    });
  }

  static connect(port: number): Promise<RawPile> {
    return new Promise((resolve, reject) => {
      const s = net.connect(port, '127.0.0.1', () => resolve(new RawPile(s)));
      s.once('error', reject);
    });
  }

  write(b: Buffer): void {
    this.sock.write(b);
  }

  /** Waits (generously) until `pred` holds for the received frames or the connection state. */
  async until(pred: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
    const end = Date.now() + timeoutMs;
    while (!pred()) {
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
      await new Promise<void>((r) => {
        this.wake = r;
        setTimeout(r, 50);
      });
    }
  }

  /** The next reply of `type` (removed from the list). */
  async next(type: number, timeoutMs = 5000): Promise<RawReply> {
    await this.until(() => this.frames.some((f) => f.type === type), `frame 0x${type.toString(16)}`, timeoutMs);
    return this.frames.splice(this.frames.findIndex((f) => f.type === type), 1)[0];
  }

  close(): void {
    this.sock.destroy();
  }
}

async function eventually(pred: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Pile number and result of a 0x02 login reply, read from its 8 body bytes. */
const loginReply = (f: RawReply) => ({ pileNo: f.body.subarray(0, 7).toString('hex'), result: f.body[7] });

describe('gateway: per-connection and per-pile bounds', function () {
  this.timeout(30_000);
  let server: YkcServer;
  let port: number;
  let problems: ProblemEvent[];
  const piles: RawPile[] = [];

  async function start(opts: Partial<GatewayOptions> = {}) {
    server = new YkcServer({ autoTimeSync: false, ...opts });
    problems = [];
    server.on('problem', (e) => problems.push(e));
    port = (await server.listen(0, '127.0.0.1')).port;
  }
  const connect = async () => {
    const p = await RawPile.connect(port);
    piles.push(p);
    return p;
  };

  afterEach(async () => {
    for (const p of piles.splice(0)) p.close();
    await server.close();
  });

  it('a flood of 259-byte frames from one connection is read at maxFramesPerSecond, reported once; other piles answered', async () => {
    await start({ maxFramesPerSecond: 100, maxBytesPerSecond: 1024 * 1024, rateBurstSeconds: 1 });
    const good = await connect();
    good.write(login('32010200000001'));
    should(loginReply(await good.next(0x02)).result).equal(0);
    const flooder = await connect();
    flooder.write(login('32010200000002'));
    await flooder.next(0x02);
    // Valid frames of the maximum length (an unknown type: decoded as raw, handed on, never answered).
    const big = rawFrame(0x7e, '00'.repeat(251));
    should(big.length).equal(259);
    const chunk = Buffer.concat(Array.from({ length: 64 }, () => big));
    let sent = 0;
    const t0 = Date.now();
    let framesSeen = 0;
    server.on('frame', (e) => e.pileNo === '32010200000002' && framesSeen++);
    const flood = setInterval(() => {
      if (flooder.sock.writableLength < 1024 * 1024) {
        flooder.write(chunk);
        sent += 64;
      }
    }, 5);
    let answered = 0;
    for (let i = 1; i <= 10; i++) {
      good.write(heartbeat('32010200000001', i));
      await good.next(0x04);
      answered++;
      await new Promise((r) => setTimeout(r, 100));
    }
    clearInterval(flood);
    const seconds = (Date.now() - t0) / 1000;
    should(answered).equal(10);
    // Allowance: the burst (100) + 100/s, plus the chunk in flight when the pause began.
    should(framesSeen).be.belowOrEqual(100 + 100 * seconds + 300);
    should(sent).be.above(framesSeen * 3); // it really sent far more than was read
    should(server.counters.rateLimitedConnections).equal(1);
    should(problems.filter((p) => p.code === 'YKC_LIMIT' && /maxFramesPerSecond/.test(p.message))).have.length(1);
    should(server.isOnline('32010200000002')).be.true(); // slowed, not dropped: nothing it sent is lost
  });

  it('rate-limited input is delayed, never lost: 300 heartbeats then FIN, every one answered before the connection closes', async () => {
    await start({ maxFramesPerSecond: 200, rateBurstSeconds: 1 });
    const pile = '32010200000003';
    const p = await connect();
    p.write(login(pile));
    await p.next(0x02);
    let seen = 0;
    server.on('frame', (e) => e.frame.type === 0x03 && seen++);
    const offline = new Promise((r) => server.once('offline', r));
    p.sock.end(Buffer.concat(Array.from({ length: 300 }, (_, i) => heartbeat(pile, i + 1))));
    await offline;
    should(seen).equal(300);
    await p.until(() => p.frames.filter((f) => f.type === 0x04).length === 300, 'all 300 replies');
    should(server.counters.rateLimitedConnections).equal(1);
  });

  it('bytes are limited too: garbage at line rate is read at maxBytesPerSecond', async () => {
    await start({ maxBytesPerSecond: 8 * 1024, rateBurstSeconds: 1, maxGarbageBytes: 1 << 30 });
    const s = await connect();
    const junk = Buffer.alloc(64 * 1024, 0x55);
    const flood = setInterval(() => s.sock.writableLength < 1024 * 1024 && s.write(junk), 5);
    await new Promise((r) => setTimeout(r, 1500));
    clearInterval(flood);
    // 8 KiB burst + 8 KiB/s × 1.5 s, plus at most one 64 KiB read in flight.
    should(server.counters.garbageBytes).be.belowOrEqual(8 * 1024 + 8 * 1024 * 1.6 + 65536);
    should(server.counters.garbageBytes).be.above(0);
    should(server.counters.rateLimitedConnections).equal(1);
  });

  it('one connection is one pile: a login with another pile number is refused (0x02 result 1) and the connection closed', async () => {
    await start();
    const events: string[] = [];
    server.on('online', (e) => events.push(`online ${e.pileNo}`));
    server.on('offline', (e) => events.push(`offline ${e.pileNo}`));
    const p = await connect();
    p.write(login('32010200000001'));
    should(loginReply(await p.next(0x02))).eql({ pileNo: '32010200000001', result: 0 });
    p.write(heartbeat('32010200000001'));
    await p.next(0x04);
    p.write(login('32010200000002'));
    should(loginReply(await p.next(0x02))).eql({ pileNo: '32010200000002', result: 1 });
    await p.until(() => p.closed, 'the gateway to close the connection');
    await eventually(() => server.connectionCount() === 0, 'the connection closed on the gateway side');
    should(server.isOnline('32010200000002')).be.false();
    should(server.isOnline('32010200000001')).be.false();
    should(events).eql(['online 32010200000001', 'offline 32010200000001']);
    should(server.counters.loginsRefused).equal(1);
  });

  it("one connection is one pile with loginPolicy 'ask' too: a second number while the first waits for the flow is refused", async () => {
    await start({ loginPolicy: 'ask' });
    const asked: string[] = [];
    let waitingSession = 0;
    server.on('loginRequest', (e) => {
      asked.push(e.pileNo);
      waitingSession = e.sessionId;
    });
    const p = await connect();
    p.write(login('32010200000001'));
    await eventually(() => asked.length === 1, 'the login request');
    p.write(login('32010200000002'));
    should(loginReply(await p.next(0x02))).eql({ pileNo: '32010200000002', result: 1 });
    await p.until(() => p.closed, 'the gateway to close the connection');
    should(asked).eql(['32010200000001']);
    should(server.answerLogin(waitingSession, true)).be.false(); // the first wait is gone with it
    should(server.onlineCount()).equal(0);
  });

  it('one connection logging in as 100,000 piles creates state for one pile only', async () => {
    await start();
    const p = await connect();
    const n = 100_000;
    // Each made-up pile also reports a gun, which is what grew the gun-state table without end.
    const frames: Buffer[] = [];
    for (let i = 0; i < n; i++) {
      const pile = String(32010300000000 + i);
      frames.push(login(pile), heartbeat(pile));
    }
    p.write(Buffer.concat(frames));
    await p.until(() => p.closed, 'the gateway to close the connection');
    await eventually(() => server.connectionCount() === 0, 'the connection closed on the gateway side');
    should(server.counters.loginsAccepted).equal(1);
    should(server.counters.loginsRefused).equal(1);
    should(server.gunStates.size).belowOrEqual(1);
    should(server.offlinePileCount()).belowOrEqual(1);
    should(server.onlineCount()).equal(0);
  });

  it('offline piles: gun states and tariffs kept up to maxOfflinePiles, the longest offline dropped first', async () => {
    await start({ maxOfflinePiles: 5, heartbeatPeriodMs: 500 });
    const tariff = { modelCode: '0100', sharpElecPrice: 1, sharpServicePrice: 0, peakElecPrice: 1, peakServicePrice: 0, flatElecPrice: 1, flatServicePrice: 0, valleyElecPrice: 1, valleyServicePrice: 0, lossRatio: 0, slots: new Array(48).fill(0) };
    const numbers = Array.from({ length: 20 }, (_, i) => String(32010400000000 + i));
    for (const no of numbers) {
      const p = await connect();
      p.write(login(no));
      await p.next(0x02);
      p.write(heartbeat(no));
      await p.next(0x04);
      server.setTariff(no, { ...tariff, modelCode: '0200' });
      const off = new Promise((r) => server.once('offline', r));
      p.close();
      await off;
    }
    await new Promise((r) => setTimeout(r, 300)); // one sweep
    should(server.offlinePileCount()).equal(5);
    should(server.gunStates.size).equal(5);
    should(server.counters.pilesForgotten).equal(15);
    server.setTariff(null, tariff);
    // The oldest are forgotten (default tariff again), the five most recent keep theirs.
    should(server.tariffFor(numbers[0])!.modelCode).equal('0100');
    should(server.tariffFor(numbers[19])!.modelCode).equal('0200');
    should(problems.some((p) => p.code === 'YKC_LIMIT' && /maxOfflinePiles/.test(p.message))).be.true();
    // A pile that comes back is online again and no longer counted as offline.
    const back = await connect();
    back.write(login(numbers[19]));
    await back.next(0x02);
    should(server.offlinePileCount()).equal(4);
  });

  it('offline piles: their state is dropped after offlineRetentionMs', async () => {
    await start({ offlineRetentionMs: 200, heartbeatPeriodMs: 500 });
    const no = '32010200000007';
    const p = await connect();
    p.write(login(no));
    await p.next(0x02);
    p.write(heartbeat(no));
    await p.next(0x04);
    const off = new Promise((r) => server.once('offline', r));
    p.close();
    await off;
    should(server.gunStates.size).equal(1); // kept at first: a pile back soon keeps its guns' plug state
    await eventually(() => server.gunStates.size === 0, 'the retention to pass');
    should(server.gunStates.size).equal(0);
    should(server.offlinePileCount()).equal(0);
    should(server.counters.pilesForgotten).equal(1);
  });

  it('takeover: every login for a pile online elsewhere is reported with both addresses, even from the same host; default replaces', async () => {
    await start();
    const logins: Array<{ accepted: boolean; replaced?: boolean; previousRemote?: string }> = [];
    server.on('login', (e) => logins.push(e));
    const conns: RawPile[] = [];
    for (let i = 0; i < 3; i++) {
      const p = await connect();
      p.write(login('32010200000001'));
      should(loginReply(await p.next(0x02)).result).equal(0);
      conns.push(p);
    }
    await conns[0].until(() => conns[0].closed && conns[1].closed, 'the replaced connections to close');
    const reports = problems.filter((p) => p.code === 'YKC_LOGIN' && p.details?.takeover);
    should(reports).have.length(2);
    const addr = (p: RawPile) => p.address;
    should(reports.map((r) => [r.details!.previousRemote, r.details!.remote])).eql([
      [addr(conns[0]), addr(conns[1])],
      [addr(conns[1]), addr(conns[2])],
    ]);
    should(reports[0].message).containEql(addr(conns[0])).and.containEql(addr(conns[1]));
    should(logins.map((l) => [l.accepted, !!l.replaced, l.previousRemote])).eql([
      [true, false, undefined],
      [true, true, addr(conns[0])],
      [true, true, addr(conns[1])],
    ]);
    should(server.session('32010200000001')!.remote).equal(addr(conns[2]));
  });

  it("takeover 'refuse-while-alive': refused while the pile heartbeats, accepted once it falls silent, before it is declared offline", async () => {
    const period = 400;
    await start({ takeover: 'refuse-while-alive', heartbeatPeriodMs: period, missedHeartbeats: 5 });
    const pile = '32010200000001';
    const real = await connect();
    real.write(login(pile));
    await real.next(0x02);
    let seq = 1;
    const beat = setInterval(() => real.write(heartbeat(pile, seq++)), period / 2);
    try {
      for (let i = 0; i < 3; i++) {
        const impostor = await connect();
        impostor.write(login(pile));
        should(loginReply(await impostor.next(0x02))).eql({ pileNo: pile, result: 1 });
        await impostor.until(() => impostor.closed, 'the refused connection to close');
        await new Promise((r) => setTimeout(r, period / 2));
      }
    } finally {
      clearInterval(beat);
    }
    should(server.session(pile)!.remote).equal(real.address);
    should(server.counters.takeoversRefused).equal(3);
    const refused = problems.filter((p) => p.code === 'YKC_LOGIN' && p.details?.takeover && p.details.refused);
    should(refused).have.length(3);
    should(refused[0].details!.previousRemote).equal(real.address);
    real.frames.length = 0;
    await new Promise((r) => setTimeout(r, 50));
    // The real pile's link dies silently (no FIN): it logs in again on a new connection and keeps trying.
    const lastHeard = server.session(pile)!.lastSeen;
    let accepted: RawPile | null = null;
    while (!accepted) {
      const again = await connect();
      again.write(login(pile));
      if (loginReply(await again.next(0x02)).result === 0) accepted = again;
      else await new Promise((r) => setTimeout(r, 100));
    }
    const lockedOutMs = Date.now() - lastHeard;
    should(server.session(pile)!.remote).equal(accepted.address);
    should(server.counters.replaced).equal(1); // it replaced the silent connection, not an offline pile
    should(lockedOutMs).be.below(period * 5); // never longer than the offline timeout
  });

  it('admission: a burst beyond admitPerSecond waits and is answered in turn, none closed; live piles answered meanwhile', async () => {
    await start({ admitPerSecond: 20 });
    const live = await connect();
    live.write(login('32010200000001'));
    await live.next(0x02);
    let beating = true;
    let answered = 0;
    const beats = (async () => {
      for (let seq = 1; beating; seq++) {
        live.write(heartbeat('32010200000001', seq));
        await live.next(0x04, 2000); // each within 2 s, or the test fails
        answered++;
        await new Promise((r) => setTimeout(r, 50));
      }
    })();
    const n = 60;
    const burst = await Promise.all(Array.from({ length: n }, () => connect()));
    const t0 = Date.now();
    burst.forEach((p, i) => p.write(login(String(32010500000000 + i))));
    const replies = await Promise.all(burst.map(async (p) => ({ reply: loginReply(await p.next(0x02, 15_000)), at: Date.now() })));
    beating = false;
    await beats;
    should(replies.every((r) => r.reply.result === 0)).be.true();
    should(burst.some((p) => p.closed)).be.false();
    should(server.counters.connectionsRefused).equal(0);
    should(server.counters.admissionsDeferred).be.above(0);
    should(server.onlineCount()).equal(n + 1);
    // Paced, not all at once: 60 at 20/s take about 3 s (a loaded machine only makes it slower).
    should(Math.max(...replies.map((r) => r.at)) - t0).be.aboveOrEqual(2000);
    should(answered).be.above(5);
    should(server.admissionQueueLength()).equal(0);
  });

  it('admission: connections waiting count toward maxConnections; the excess is refused at accept', async () => {
    await start({ admitPerSecond: 1, maxConnections: 5 });
    const socks = await Promise.all(Array.from({ length: 8 }, () => connect()));
    await eventually(() => server.counters.connectionsRefused === 3, 'three refusals');
    should(socks.filter((p) => !p.closed).length).be.aboveOrEqual(5);
    should(server.connectionCount() + server.admissionQueueLength()).equal(5);
    // The queue is emptied when the server closes.
    await server.close();
    await eventually(() => socks.every((p) => p.closed), 'all connections closed');
  });

  it('the earlier option name maxAcceptsPerSecond still sets the admission rate', () => {
    const gw = new YkcServer({ maxAcceptsPerSecond: 77 });
    should(gw.options.admitPerSecond).equal(77);
    should((gw.options as unknown as Record<string, unknown>).maxAcceptsPerSecond).be.undefined();
    return gw.close();
  });
});

describe('cli: ykc serve --admit-rate', function () {
  this.timeout(20_000);
  const io = () => {
    const out: string[] = [];
    const err: string[] = [];
    let stop: () => void = () => {};
    const cli: CliIo = { out: (l) => out.push(l), err: (l) => err.push(l), stdin: new PassThrough(), onStop: (cb) => (stop = cb) };
    return { cli, out, err, stop: () => stop() };
  };

  it('refuses a rate that is not a positive integer', async () => {
    const f = io();
    should(await serve(['--port', '0', '--admit-rate', '0'], f.cli)).equal(2);
    should(JSON.parse(f.err[0])).containEql({ code: 'YKC_INPUT' });
    should(f.err[0]).match(/--admit-rate/);
  });

  it('admits a burst at the given rate: all answered, none closed, paced', async () => {
    const f = io();
    const done = serve(['--host', '127.0.0.1', '--port', '0', '--no-time-sync', '--admit-rate', '4'], f.cli);
    await eventually(() => f.out.length > 0, 'listening');
    const port = JSON.parse(f.out[0]).port as number;
    const piles = await Promise.all(Array.from({ length: 10 }, () => RawPile.connect(port)));
    const t0 = Date.now();
    piles.forEach((p, i) => p.write(login(String(32010600000000 + i))));
    const results = await Promise.all(piles.map(async (p) => loginReply(await p.next(0x02, 15_000)).result));
    const took = Date.now() - t0;
    should(results).eql(new Array(10).fill(0));
    should(piles.some((p) => p.closed)).be.false();
    should(took).be.aboveOrEqual(1500); // 10 at 4/s: about 2.25 s
    piles.forEach((p) => p.close());
    f.stop();
    should(await done).equal(0);
  });
});
