/**
 * Hostile and faulty traffic: each attack is bounded by a named limit, and a well-behaved pile
 * heartbeating at the same time gets every answer. (How fast it gets them is a figure printed by
 * bench/hostile.ts, not a timed assertion here.)
 */
import * as net from 'net';
import { duplexPair } from 'stream';
import should from 'should';
import { ProblemEvent, YkcServer } from '../../src/gateway';
import { GatewayOptions } from '../../src/gateway/options';
import { ScriptedPile } from '../support/pile-client';
import { rawFrame } from '../support/raw';

const GOOD = '32010200000001';
const login = (pile: string) => rawFrame(0x01, `${pile}0002 0F 56342E312E353000 01 ${'00'.repeat(10)} 04`, '0000');

/** A pile heartbeating every 20 ms; stop() returns how many answers it got (each within 2 s, else the test fails). */
async function goodPile(port: number): Promise<{ stop(): Promise<number>; pile: ScriptedPile }> {
  const p = await ScriptedPile.connect(port);
  p.write(login(GOOD));
  await p.next(0x02);
  const lat: number[] = [];
  let seq = 1;
  let running = true;
  const loop = (async () => {
    while (running) {
      const t = process.hrtime.bigint();
      const s = seq++ & 0xffff;
      p.write(rawFrame(0x03, `${GOOD}0100`, Buffer.from([s & 0xff, s >> 8]).toString('hex')));
      await p.next(0x04, (f) => f.seq === s, 2000);
      lat.push(Number(process.hrtime.bigint() - t) / 1e6);
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  return {
    pile: p,
    async stop() {
      running = false;
      await loop;
      return lat.length;
    },
  };
}


describe('gateway: hostile and faulty traffic', function () {
  this.timeout(20_000);
  let server: YkcServer;
  let port: number;
  let problems: ProblemEvent[];
  const socks: net.Socket[] = [];

  async function start(opts: Partial<GatewayOptions> = {}) {
    server = new YkcServer({ autoTimeSync: false, ...opts });
    problems = [];
    server.on('problem', (e) => problems.push(e));
    port = (await server.listen(0, '127.0.0.1')).port;
  }
  const raw = (): Promise<net.Socket> =>
    new Promise((resolve, reject) => {
      const s = net.connect(port, '127.0.0.1', () => resolve(s));
      s.on('error', () => {});
      s.once('error', reject);
      socks.push(s);
    });
  const closed = (s: net.Socket) => new Promise<void>((r) => (s.destroyed ? r() : s.once('close', () => r())));

  afterEach(async () => {
    for (const s of socks.splice(0)) s.destroy();
    await server.close();
  });

  it('garbage flood from many connections: each closed at maxGarbageBytes; the good pile unaffected', async () => {
    await start({ maxGarbageBytes: 4096 });
    const good = await goodPile(port);
    const attackers = await Promise.all(Array.from({ length: 20 }, raw));
    const junk = Buffer.alloc(256 * 1024);
    for (let i = 0; i < junk.length; i++) junk[i] = (i * 7919) & 0xff; // includes 0x68 bytes
    for (const a of attackers) a.write(junk);
    await Promise.all(attackers.map(closed));
    should(await good.stop()).be.above(0);
    good.pile.close();
    should(problems.some((p) => p.code === 'YKC_GARBAGE' && p.details?.fatal)).be.true();
    // Counted in full even though the splitter reports only a few errors per connection.
    should(server.counters.garbageBytes).be.aboveOrEqual(20 * 4096);
  });

  it('a never-ending frame and slow-drip bytes (slowloris) are closed by the login timeout', async () => {
    await start({ loginTimeoutMs: 300, heartbeatPeriodMs: 1000 });
    const good = await goodPile(port);
    const endless = await raw();
    endless.write(Buffer.from([0x68, 0xff, 0x00, 0x00, 0x00, 0x03])); // claims 259 bytes, sends 6
    const drip = await raw();
    const frame = login('32010200000009');
    let i = 0;
    const t = setInterval(() => i < frame.length && !drip.destroyed && drip.write(frame.subarray(i, ++i)), 100);
    await Promise.all([closed(endless), closed(drip)]);
    clearInterval(t);
    should(server.isOnline('32010200000009')).be.false();
    should(await good.stop()).be.above(0);
    good.pile.close();
  });

  it('frames before login: the first is reported, none answered, the connection closed past maxFramesBeforeLogin', async () => {
    await start({ maxFramesBeforeLogin: 5 });
    let emitted = 0;
    server.on('frame', () => emitted++);
    const s = await raw();
    const hb = rawFrame(0x03, `${GOOD}0100`);
    s.write(Buffer.concat(Array.from({ length: 50 }, () => hb)));
    await closed(s);
    should(emitted).equal(5);
    should(problems.filter((p) => p.code === 'YKC_LOGIN')).have.length(1);
    should(server.counters.framesBeforeLogin).equal(6);
  });

  it('hundreds of piles ending their connections at once all go offline, closed in batches', async () => {
    await start({ admitPerSecond: 5000 });
    const n = 300;
    const piles = await Promise.all(
      Array.from({ length: n }, async (_, i) => {
        const p = await ScriptedPile.connect(port);
        p.write(login(String(32010200001000 + i)));
        await p.next(0x02);
        return p;
      }),
    );
    should(server.onlineCount()).equal(n);
    let offline = 0;
    const all = new Promise<void>((r) => server.on('offline', () => ++offline === n && r()));
    for (const p of piles) p.sock.end(); // FIN from every pile in the same instant
    await all;
    should(server.connectionCount()).equal(0);
  });

  it('oversize and impossible lengths are rejected at the header, and the next good frame still counts', async () => {
    await start();
    const p = await ScriptedPile.connect(port);
    p.write(Buffer.concat([Buffer.from([0x68, 0x02, 0x00, 0x00, 0x00, 0x03]), Buffer.from([0x68, 0xff, 0x00, 0x00, 0x07, 0x03]), login(GOOD)]));
    should((await p.next(0x02)).body.result).equal(0);
    should(problems.filter((x) => x.code === 'YKC_LENGTH').length).be.aboveOrEqual(2);
    p.close();
  });

  it('1000 connections that never speak are closed by the login timeout; the good pile is unaffected', async () => {
    await start({ loginTimeoutMs: 1000, heartbeatPeriodMs: 1000, admitPerSecond: 5000 });
    const good = await goodPile(port);
    const idle = await Promise.all(Array.from({ length: 1000 }, raw));
    for (let t = 0; server.counters.connections < 1001 && t < 300; t++) await new Promise((r) => setTimeout(r, 10));
    should(server.counters.connections).equal(1001);
    should(server.counters.connectionsRefused).equal(0);
    await Promise.all(idle.map(closed));
    should(server.connectionCount()).equal(1);
    should(await good.stop()).be.above(0);
    good.pile.close();
  });

  it('maxConnections refuses the excess at accept', async () => {
    await start({ maxConnections: 5 });
    const ok = await Promise.all(Array.from({ length: 5 }, raw));
    const extra = await raw();
    await closed(extra);
    should(server.counters.connectionsRefused).equal(1);
    ok.forEach((s) => s.destroy());
  });

  it('a pile that stops reading is dropped at maxOutboundBytes without blocking others', async () => {
    await start({ maxOutboundBytes: 16 * 1024 });
    const good = await goodPile(port);
    // An in-memory connection whose far end never reads: our writes back up after its 16 KiB buffer.
    const [ours, theirs] = duplexPair();
    server.handle(ours, 'stuck-pile');
    const pile = '32010200000002';
    theirs.write(login(pile));
    await new Promise((r) => server.once('online', r));
    const offline = new Promise<{ reason?: string }>((r) => server.once('offline', r));
    const big = { type: 0x44, body: { pileNo: pile, cards: Array.from({ length: 15 }, (_, i) => ({ logicalCardNo: String(i), physicalCardNo: 'AABBCCDD' })) } };
    let sent = 0;
    while (server.isOnline(pile) && sent < 1000) {
      server.send(pile, big);
      sent++;
    }
    should((await offline).reason).match(/outbound queue full/);
    should(sent * 256).be.below(64 * 1024); // dropped after ~32 KiB: 16 KiB stream buffer + 16 KiB queue
    should(await good.stop()).be.above(0);
    good.pile.close();
  });

  it('a login for a connected pile from a new address replaces it and is reported', async () => {
    await start();
    const a = await ScriptedPile.connect(port);
    a.write(login(GOOD));
    await a.next(0x02);
    // Same host here (loopback) so make the old connection look remote by its recorded address.
    const s = server.session(GOOD)!;
    (s as unknown as { remote: string }).remote = '10.9.9.9:4000';
    const b = await ScriptedPile.connect(port);
    b.write(login(GOOD));
    await b.next(0x02);
    await a.whenClosed();
    should(problems.some((p) => p.code === 'YKC_LOGIN' && /logged in from/.test(p.message))).be.true();
    b.close();
  });
});
