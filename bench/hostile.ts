/**
 * Hostile traffic against a gateway in its own process, one attack at a time, while 200
 * well-behaved piles in a third process heartbeat (every 1 s by default: ten times the protocol
 * rate, for more samples; a reply counts as missed after 10 s). For each attack prints the good
 * piles' heartbeat p50/p99/max and missed replies, the attack's intensity, and the gateway's CPU,
 * event-loop stalls and the counters that moved (the named limit that bounded the attack).
 *
 *   node dist/bench/hostile.js [--attacks garbage,silent,slowloris,oversize,flood,beforeLogin,nonReading] [--emulate-fixes] [--no-rate-limit] [--no-cost] [--cost-only]
 *                              [--seconds 15] [--good 200] [--good-period 1000] [--login-timeout 10000]
 *
 * Attacks:
 *   garbage      50 connections writing random bytes (with 0x68s) every 10 ms; closed at maxGarbageBytes, they reconnect at once.
 *   silent       1,000 connections that never send a byte; closed at loginTimeoutMs.
 *   slowloris    200 connections dripping a login one byte per 500 ms, 50 sending a header that claims
 *                259 bytes then one byte per 500 ms; closed at loginTimeoutMs.
 *   oversize     50 connections sending impossible headers (length < 4, flag > 1, bodies too short)
 *                and 259-byte frames with a bad CRC every 10 ms; closed at maxGarbageBytes, they reconnect.
 *   flood        one logged-in connection writing valid 259-byte frames as fast as the socket takes them; read at
 *                maxFramesPerSecond / maxBytesPerSecond (the rest waits in the kernel, pushing back on the sender).
 *   beforeLogin  50 connections sending valid heartbeat and realtime frames without logging in,
 *                every 10 ms; reported, not answered, closed at loginTimeoutMs, they reconnect.
 *   nonReading   10 logged-in piles that stop reading and send 20 heartbeats every 10 ms each (2,000/s):
 *                the replies back up in the kernel, then in the gateway; closed at maxOutboundBytes.
 *
 * The gateway runs with its defaults except loginTimeoutMs (10 s here, so the slow attacks end
 * within the run; default 60 s). Target (issue #8): good piles' p99 < 50 ms during each attack.
 */
import { ChildProcess, fork } from 'child_process';
import * as net from 'net';
import {
  ask, closeChild, counterDiff, cpuPercent, flag, forkRole, gatewayProcess, GatewayStats, machine, mb, pileNo, probeProcess, ProbeTake, procStats, sleep,
  stallRecorder, tcpCounters, withSeq,
} from './nodered-load';
import { duplexPair } from 'stream';
import { PileSession, YkcServer } from '../src/gateway';
import { encodeFrame, FrameSplitter, YkcError } from '../src/protocol';

const ROLE = flag('role', 'main');

/** Random bytes salted with start bytes, so the splitter meets false frame starts too. */
function junk(n: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = Math.random() < 0.04 ? 0x68 : (Math.random() * 256) | 0;
  return b;
}

interface Intensity {
  connects: number;
  closedByGateway: number;
  bytes: number;
  frames: number;
}

interface Attack {
  name: string;
  what: string;
  start(port: number, n: Intensity): void;
  /** Resolves early when the attack has run its course (e.g. every silent connection closed). */
  done?: Promise<void>;
  stop(): void;
}

/**
 * `slots` connections; each runs `onTick` every `tickMs` while open (skipped while the socket
 * is backed up), and is reopened `reopenMs` after the gateway closes it (never, if null).
 */
function churn(
  name: string,
  what: string,
  slots: number,
  tickMs: number,
  reopenMs: number | null,
  onOpen: (s: net.Socket, n: Intensity) => void,
  onTick: ((s: net.Socket, n: Intensity) => void) | null,
): Attack {
  const socks = new Set<net.Socket>();
  let stopped = false;
  let timer: NodeJS.Timeout | null = null;
  let open = 0;
  let settle: () => void = () => {};
  const done = new Promise<void>((r) => (settle = r));
  return {
    name,
    what,
    done: reopenMs === null ? done : undefined,
    start(port, n) {
      const connect = () => {
        if (stopped) return;
        n.connects++;
        open++;
        const s = net.connect(port, '127.0.0.1');
        s.setNoDelay(true);
        socks.add(s);
        s.on('error', () => {});
        s.on('connect', () => onOpen(s, n));
        s.on('close', () => {
          socks.delete(s);
          open--;
          if (stopped) return;
          n.closedByGateway++;
          if (reopenMs !== null) setTimeout(connect, reopenMs);
          else if (open === 0) settle();
        });
      };
      // Open at most 500 per second so the accept-rate limit is not the thing measured.
      let i = 0;
      const opener = setInterval(() => {
        for (let k = 0; k < 25 && i < slots; k++, i++) connect();
        if (i >= slots) clearInterval(opener);
      }, 50);
      if (onTick) {
        timer = setInterval(() => {
          for (const s of socks) if (s.writable && !s.connecting && s.writableLength < 65536) onTick(s, n);
        }, tickMs);
      }
    },
    stop() {
      stopped = true;
      if (timer) clearInterval(timer);
      for (const s of socks) s.destroy();
      settle();
    },
  };
}

const loginFrame = (no: string) =>
  encodeFrame({ type: 0x01, seq: 0, body: { pileNo: no, pileType: 0, gunCount: 1, protocolVersion: 1.5, firmwareVersion: 'BENCH', networkType: 1, iccid: '', carrier: 4 } });
const heartbeat = (no: string) => encodeFrame({ type: 0x03, seq: 0, body: { pileNo: no, gunNo: 1, gunState: 0 } });

function attacks(): Record<string, () => Attack> {
  return {
    garbage: () =>
      churn('garbage', '50 connections, 4 KiB of random bytes each every 10 ms, reconnecting when closed', 50, 10, 0, () => {}, (s, n) => {
        const b = junk(4096);
        n.bytes += b.length;
        s.write(b);
      }),
    silent: () => churn('silent', '1,000 connections that never send a byte', 1000, 0, null, () => {}, null),
    slowloris: () => {
      const login = loginFrame(pileNo(0, 32017700000000));
      // Next byte of the login to send, or -1: an endless frame (a header claiming 259 bytes, then random bytes).
      const pos = new WeakMap<net.Socket, number>();
      let k = 0;
      return churn('slowloris', '200 connections dripping a login one byte per 500 ms (it would take 17 s) + 50 endless 259-byte frames, one byte per 500 ms', 250, 500, null,
        (s) => pos.set(s, k++ < 200 ? 0 : -1),
        (s, n) => {
          const p = pos.get(s)!;
          let b: Buffer;
          if (p === -1) {
            b = Buffer.from([0x68, 0xff, 0x00, 0x00, 0x00, 0x03]);
            pos.set(s, -2);
          } else if (p === -2) {
            b = Buffer.from([(Math.random() * 256) | 0]);
          } else {
            if (p >= login.length) return;
            b = login.subarray(p, p + 1);
            pos.set(s, p + 1);
          }
          n.bytes += b.length;
          s.write(b);
        });
    },
    oversize: () => {
      const bad = [
        Buffer.from([0x68, 0x02, 0x00, 0x00, 0x00, 0x03]), // length below the minimum
        Buffer.from([0x68, 0x0d, 0x00, 0x00, 0x07, 0x03]), // flag 7
        Buffer.from([0x68, 0x05, 0x00, 0x00, 0x00, 0x13]), // 0x13 with a 1-byte body
      ];
      return churn('oversize', '50 connections, impossible headers and 259-byte frames with a bad CRC every 10 ms, reconnecting', 50, 10, 0, () => {}, (s, n) => {
        const parts: Buffer[] = [];
        for (let i = 0; i < 8; i++) parts.push(bad[i % bad.length]);
        const big = Buffer.concat([Buffer.from([0x68, 0xff, 0x00, 0x00, 0x00, 0x3b]), junk(253)]);
        parts.push(big);
        const b = Buffer.concat(parts);
        n.bytes += b.length;
        n.frames += parts.length;
        s.write(b);
      });
    },
    beforeLogin: () => {
      const frames = Array.from({ length: 50 }, (_, i) => {
        const no = pileNo(i, 32016600000000);
        return Buffer.concat([heartbeat(no), encodeFrame({ type: 0x13, seq: 1, body: {
          tradeNo: no + '01' + '2511261200000001', pileNo: no, gunNo: 1, gunState: 3, gunHolstered: 0, gunPlugged: 1, outputVoltage: 380.5, outputCurrent: 31.2,
          gunTemp: 35, gunCableCode: '', soc: 55, batteryMaxTemp: 30, chargingMinutes: 20, remainingMinutes: 40, chargedEnergy: 1, lossEnergy: 1, chargedAmount: 1, hardwareFault: 0,
        } })]);
      });
      let k = 0;
      const mine = new WeakMap<net.Socket, Buffer>();
      return churn('beforeLogin', '50 connections sending valid heartbeat + realtime frames without a login, 10 pairs every 10 ms each, reconnecting', 50, 10, 0,
        (s) => mine.set(s, frames[k++ % frames.length]),
        (s, n) => {
          const f = mine.get(s)!;
          const b = Buffer.concat(Array.from({ length: 10 }, () => f));
          n.bytes += b.length;
          n.frames += 20;
          s.write(b);
        });
    },
    flood: () => {
      // Valid frames of the maximum length (259 bytes; an unknown type, so decoded as raw and handed on).
      const big = encodeFrame({ type: 0x7e, seq: 0, body: { raw: '00'.repeat(251) } });
      const chunk = Buffer.concat(Array.from({ length: 64 }, () => big));
      return churn('flood', 'one logged-in pile writing valid 259-byte frames as fast as its socket takes them (64 per ms)', 1, 1, 1000,
        (s, n) => {
          s.write(loginFrame(pileNo(0, 32012200000000)));
          n.frames++;
        },
        (s, n) => {
          n.bytes += chunk.length;
          n.frames += 64;
          s.write(chunk);
        });
    },
    nonReading: () => {
      let k = 0;
      const hb = new WeakMap<net.Socket, { frame: Buffer; seq: number; in: boolean }>();
      return churn('nonReading', '10 logged-in piles that never read, each sending 20 heartbeats every 10 ms (2,000/s each)', 10, 10, 1000,
        (s, n) => {
          const no = pileNo(k++, 32015500000000);
          hb.set(s, { frame: heartbeat(no), seq: 1, in: false });
          s.write(loginFrame(no));
          n.frames++;
          // Read only the login reply, then stop reading for good.
          s.once('data', () => {
            s.pause();
            hb.get(s)!.in = true;
          });
        },
        (s, n) => {
          const h = hb.get(s)!;
          if (!h.in) return;
          const parts: Buffer[] = [];
          for (let i = 0; i < 20; i++) parts.push(withSeq(h.frame, h.seq++ & 0xffff));
          const b = Buffer.concat(parts);
          n.bytes += b.length;
          n.frames += 20;
          s.write(b);
        });
    },
  };
}

/**
 * CPU cost inside the gateway per unit of each attack, measured in-process on in-memory streams
 * (no sockets, no other process): figures that do not depend on how busy the machine is. With
 * --stackless, Error.stackTraceLimit is 0, to measure what building errors without a stack trace
 * would save.
 */
async function costs(): Promise<void> {
  if (process.argv.includes('--stackless')) Error.stackTraceLimit = 0;
  const cap = Number(flag('report-cap', '0'));
  if (cap > 0) emulateReportCap(cap);
  const gw = new YkcServer({ autoTimeSync: false });
  let problems = 0;
  gw.on('problem', () => problems++);
  /** µs of CPU per call of fn, over `n` calls after a warm-up. */
  const per = (n: number, fn: (i: number) => void): number => {
    for (let i = 0; i < Math.min(200, n); i++) fn(i);
    const c0 = process.cpuUsage();
    for (let i = 0; i < n; i++) fn(i);
    const c = process.cpuUsage(c0);
    return +((c.user + c.system) / n).toFixed(1);
  };
  const open = () => {
    const [ours, theirs] = duplexPair();
    theirs.resume();
    const session = gw.handle(ours, 'cost');
    return { ours, session };
  };
  const junk4k = Array.from({ length: 64 }, () => junk(4096));
  const oversize = Buffer.concat([
    ...Array.from({ length: 8 }, (_, i) => [Buffer.from([0x68, 0x02, 0, 0, 0, 3]), Buffer.from([0x68, 0x0d, 0, 0, 7, 3]), Buffer.from([0x68, 0x05, 0, 0, 0, 0x13])][i % 3]),
    Buffer.concat([Buffer.from([0x68, 0xff, 0, 0, 0, 0x3b]), junk(253)]),
  ]);
  const hb = heartbeat(pileNo(0, 32014400000000));
  const p0 = problems;
  const out = {
    stackTraces: Error.stackTraceLimit !== 0,
    reportCap: cap || null,
    acceptAndCloseUs: per(3000, () => open().session.close('cost')),
    garbageConnection4KiBUs: per(1000, (i) => {
      const { ours, session } = open();
      ours.emit('data', junk4k[i % junk4k.length]);
      session.close('cost');
    }),
    oversizeChunkUs: per(3000, () => {
      const { ours, session } = open();
      ours.emit('data', oversize);
      session.close('cost');
    }),
    beforeLoginFrameUs: (() => {
      const { ours } = open();
      return per(20000, () => ours.emit('data', hb));
    })(),
    heartbeatFrameUs: (() => {
      const { ours } = open();
      ours.emit('data', loginFrame(pileNo(0, 32014400000000)));
      return per(20000, (i) => ours.emit('data', withSeq(hb, i & 0xffff)));
    })(),
    problemEvents: problems - p0,
    // A reconnect storm's units: a pile logging in on a new connection, and a logged-in pile's connection closing.
    loginOnNewConnectionUs: (() => {
      const sessions: Array<{ close(r: string): void }> = [];
      const us = per(3000, (i) => {
        const { ours, session } = open();
        ours.emit('data', loginFrame(pileNo(i, 32013300000000)));
        sessions.push(session);
      });
      for (const x of sessions) x.close('cost');
      return us;
    })(),
    loggedInCloseUs: (() => {
      const sessions = Array.from({ length: 3200 }, (_, i) => {
        const { ours, session } = open();
        ours.emit('data', loginFrame(pileNo(i, 32013300000000)));
        ours.emit('data', heartbeat(pileNo(i, 32013300000000)));
        return session;
      });
      return per(3000, (i) => sessions[i % sessions.length].close('cost'));
    })(),
  };
  console.log(JSON.stringify({ gatewayCpuCostPerUnit: out }));
  await gw.close();
}

/** Waits until only the good piles are connected and the gateway's frame count grows at their pace only. */
async function settle(child: ChildProcess, good: number): Promise<void> {
  let last = await ask<GatewayStats>(child, 'stats', { gc: false });
  for (let i = 0; i < 60; i++) {
    await sleep(500);
    const now = await ask<GatewayStats>(child, 'stats', { gc: false });
    const extra = now.metrics.counters.framesIn - last.metrics.counters.framesIn;
    last = now;
    if (now.connections <= good && extra <= good) break;
  }
  await sleep(1000);
}

/**
 * The fixes proposed from these figures, emulated in the gateway process (--emulate-fixes) to
 * measure them: (1) the splitter reports at most 8 errors per connection, then only counts;
 * (2) frames before a login: the first is reported, the rest counted, and the connection is
 * closed after 16 of them.
 */
function emulateFixes(): void {
  emulateReportCap(8);
  type Priv = { onFrame(s: PileSession, buf: Buffer, order: unknown): void; counters: { framesBeforeLogin: number } };
  const proto = YkcServer.prototype as unknown as Priv;
  const onFrame = proto.onFrame;
  const early = new WeakMap<PileSession, number>();
  proto.onFrame = function (this: Priv, sess, buf, order) {
    const isLogin = buf[5] === 0x01 && buf[4] !== 1;
    if (sess.state !== 'online' && !isLogin) {
      const n = (early.get(sess) ?? 0) + 1;
      early.set(sess, n);
      if (n > 1) {
        this.counters.framesBeforeLogin++;
        if (n > 16) sess.close('16 frames before a login');
        return;
      }
    }
    onFrame.call(this, sess, buf, order);
  };
}

async function main(): Promise<void> {
  if (process.argv.includes('--cost-only')) return costRuns();
  const names = flag('attacks', 'garbage,silent,slowloris,oversize,flood,beforeLogin,nonReading').split(',');
  const seconds = Number(flag('seconds', '15'));
  const good = flag('good', '200');
  const goodPeriod = flag('good-period', '1000');
  const loginTimeout = flag('login-timeout', '10000');
  const table = attacks();
  for (const n of names) if (!table[n]) throw new Error(`unknown attack ${n}; known: ${Object.keys(table).join(', ')}`);
  console.log(
    `hostile-traffic bench: ${good} good piles heartbeating every ${goodPeriod} ms; attacks ${names.join(', ')}, ${seconds} s each; gateway loginTimeoutMs ${loginTimeout}, other limits default` +
      (process.argv.includes('--emulate-fixes') ? '; PROPOSED FIXES EMULATED (report cap 8 per connection, close after 16 frames before login)' : ''),
  );

  const fixes = process.argv.includes('--emulate-fixes');
  const noRate = process.argv.includes('--no-rate-limit') ? ['--no-rate-limit'] : [];
  const gw = await forkRole<{ port: number }>(__filename, 'gateway', ['--login-timeout', loginTimeout, ...(fixes ? ['--emulate-fixes'] : []), ...noRate]);
  const port = gw.hello.port;
  const probe = await forkRole(__filename, 'probe', ['--port', String(port), '--count', good, '--period', goodPeriod]);
  await ask(gw.child, 'waitOnline', { target: Number(good) });
  await sleep(3000);

  const windowed = async (name: string, what: string, run: (n: Intensity) => Promise<void>) => {
    await ask(probe.child, 'take');
    const before = await ask<GatewayStats>(gw.child, 'stats', { gc: false });
    const t0 = Date.now();
    const box = machine();
    const tcp = tcpCounters();
    const own = procStats(false);
    const ownStalls = stallRecorder();
    const n: Intensity = { connects: 0, closedByGateway: 0, bytes: 0, frames: 0 };
    await run(n);
    const secs = (Date.now() - t0) / 1000;
    const p = await ask<ProbeTake>(probe.child, 'take');
    const after = await ask<GatewayStats>(gw.child, 'stats', { gc: false, since: t0 });
    const problems: Record<string, number> = {};
    for (const [k, v] of Object.entries(after.problemsByCode)) if (v - (before.problemsByCode[k] ?? 0)) problems[k] = v - (before.problemsByCode[k] ?? 0);
    console.log(
      JSON.stringify({
        attack: name,
        what,
        seconds: +secs.toFixed(1),
        intensity: {
          connections: n.connects,
          closedByGateway: n.closedByGateway,
          bytesPerSecond: Math.round(n.bytes / secs),
          framesPerSecond: Math.round(n.frames / secs),
        },
        goodPiles: { ...p.heartbeat, online: p.online, disconnects: p.disconnects },
        gateway: {
          cpuPercent: cpuPercent(before, after),
          loopDelayMs: after.loopDelayMs,
          stalls: after.stalls,
          rssMB: mb(after.rss),
          peakConnections: after.peakConnections,
          connectionsAtEnd: after.connections,
          counters: counterDiff(before.metrics, after.metrics),
          problemEvents: problems,
        },
        attackerCpuPercent: cpuPercent(own, procStats(false)),
        attackerStalls: ownStalls.take(t0),
        kernelTcp: tcp(),
        machine: box(),
      }),
    );
  };

  await windowed('none', 'calm: good piles only', () => sleep(seconds * 1000));
  for (const name of names) {
    const a = table[name]();
    await windowed(a.name, a.what, async (n) => {
      a.start(port, n);
      const timeout = sleep(seconds * 1000);
      await (a.done ? Promise.race([a.done.then(() => sleep(500)), timeout]) : timeout);
      a.stop();
    });
    // Let the gateway drain what the attack left (data already in its socket buffers) before the next one.
    await settle(gw.child, Number(good));
  }
  await Promise.all([closeChild(probe.child), closeChild(gw.child)]);
  // The same attacks as CPU per unit inside the gateway, independent of machine load.
  if (!process.argv.includes('--no-cost')) await costRuns();
}

/**
 * A proposal, emulated to measure it: the splitter reports at most `cap` errors per connection
 * (then only counts, as it already does past maxGarbage). Patches FrameSplitter's two reporting
 * paths in this cost process only.
 */
function emulateReportCap(cap: number): void {
  type Priv = { reject(make: () => YkcError, skipped?: number): void; flushGarbage(b: Buffer, from: number, to: number): void; countGarbage(n: number): void; overLimit: boolean; stats: FrameSplitter['stats'] };
  const proto = FrameSplitter.prototype as unknown as Priv;
  const reported = new WeakMap<object, number>();
  const admit = (s: object) => {
    const n = (reported.get(s) ?? 0) + 1;
    reported.set(s, n);
    return n <= cap;
  };
  const origFlush = proto.flushGarbage;
  proto.reject = function (this: Priv & { onError(e: YkcError): void }, make, skipped = 1) {
    this.stats.resyncs++;
    if (!this.overLimit && admit(this)) this.onError(make());
    this.countGarbage(skipped);
  };
  proto.flushGarbage = function (this: Priv, b, from, to) {
    if (from < 0 || to <= from) return;
    if (admit(this)) return origFlush.call(this, b, from, to);
    this.countGarbage(to - from);
  };
}

async function costRuns(): Promise<void> {
  for (const extra of [[], ['--stackless'], ['--report-cap', '8']]) {
    await new Promise((r) => fork(__filename, ['--role', 'cost', ...extra], { stdio: 'inherit' }).once('exit', r));
  }
}

const run =
  ROLE === 'cost'
    ? costs
    : ROLE === 'gateway'
    ? () => {
        if (process.argv.includes('--emulate-fixes')) emulateFixes();
        // --no-rate-limit: the per-connection rate limit off, to measure what it saves.
        const unlimited = process.argv.includes('--no-rate-limit') ? { maxFramesPerSecond: 1e9, maxBytesPerSecond: 1e12 } : {};
        return gatewayProcess({ loginTimeoutMs: Number(flag('login-timeout', '10000')), recordConfirm: 'at-once', ...unlimited });
      }
    : ROLE === 'probe'
      ? probeProcess
      : main;
run().catch((e) => {
  console.error(e);
  process.exit(1);
});
