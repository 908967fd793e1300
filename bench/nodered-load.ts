/**
 * Load generator shared by bench/nodered.ts, bench/storm.ts and bench/hostile.ts: cheap piles on
 * raw sockets (no simulator: thousands of them must cost the measuring process little), that log in,
 * heartbeat, send realtime data while "charging", and reconnect as field piles do. Heartbeat replies
 * are timed from write to reply; a heartbeat without a reply after a whole period is a missed reply.
 * Also: percentiles, child-process IPC, and the figures' print format.
 */
import { ChildProcess, fork } from 'child_process';
import * as fs from 'fs';
import * as net from 'net';
import * as inspector from 'inspector';
import * as os from 'os';
import * as path from 'path';
import { monitorEventLoopDelay } from 'perf_hooks';
import { GatewayOptions, MetricsSnapshot, TariffBody, YkcServer } from '../src/gateway';
import { crc16Modbus, encodeFrame, FrameSplitter } from '../src/protocol';

export const HEARTBEAT_MS = 10_000;
export const REALTIME_MS = 15_000;

/** Command-line flags: `--name value`. */
export function flag(name: string, dflt: string): string {
  const args = process.argv.slice(2);
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1] : dflt;
}

export function pileNo(i: number, base = 32010200000000): string {
  return String(base + i + 1).padStart(14, '0');
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** p-th percentile of an ascending array (nearest rank). */
export const pct = (sorted: number[], p: number): number =>
  sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))] : NaN;

export interface LatencySummary {
  replies: number;
  p50: number;
  p99: number;
  max: number;
}

export function summarize(lat: number[]): LatencySummary {
  const a = Float64Array.from(lat).sort();
  const s = Array.from(a);
  const r = (x: number) => (Number.isFinite(x) ? +x.toFixed(2) : NaN);
  return { replies: s.length, p50: r(pct(s, 50)), p99: r(pct(s, 99)), max: r(s[s.length - 1] ?? NaN) };
}

/** Shared tallies of a group of piles. */
export class LoadStats {
  lat: number[] = [];
  /** Wall-clock time (ms) of each reply in `lat`, when `timeline` is on. */
  latAt: number[] = [];
  timeline = false;
  missed = 0;
  framesOut = 0;
  framesIn = 0;
  /** Connections closed by the gateway before the login was answered (accept limits). */
  refused = 0;
  logins = 0;
  /** Heartbeats whose connection was dropped before the reply: not misses. */
  abandoned = 0;
  /** Logged-in connections that closed (by the gateway, or dropped by the bench). */
  disconnects = 0;
}

export interface PileOptions {
  port: number;
  host?: string;
  charging?: boolean;
  heartbeatMs?: number;
  realtimeMs?: number;
  /** Login unanswered this long on an open connection → sent again (field piles: ~10 s). */
  loginRetryMs?: number;
  /** After a refused or lost connection: reconnect after this × (0.5…1.5). */
  reconnectMs?: number;
  /** First heartbeat at a random phase within one period (a fleet), or right away. */
  randomPhase?: boolean;
  /** A heartbeat unanswered this long is missed (default: the protocol's 10 s, whatever the period). */
  missAfterMs?: number;
}

const now = () => Number(process.hrtime.bigint()) / 1e6;

function realtimeBody(pile: string) {
  return {
    tradeNo: pile + '01' + '2511261200000001', pileNo: pile, gunNo: 1, gunState: 3, gunHolstered: 0, gunPlugged: 1,
    outputVoltage: 380.5, outputCurrent: 31.2, gunTemp: 35, gunCableCode: '', soc: 55, batteryMaxTemp: 30,
    chargingMinutes: 20, remainingMinutes: 40, chargedEnergy: 12.3456, lossEnergy: 12.3456, chargedAmount: 18.5184, hardwareFault: 0,
  };
}

function withCrc(b: Buffer): Buffer {
  const c = crc16Modbus(b, 2, b.length - 2);
  b[b.length - 2] = c & 0xff;
  b[b.length - 1] = c >>> 8;
  return b;
}

/** A copy of a frame with another sequence number (and its CRC redone). */
export function withSeq(frame: Buffer, seq: number): Buffer {
  const b = Buffer.from(frame);
  b[2] = seq & 0xff;
  b[3] = seq >>> 8;
  return withCrc(b);
}

/**
 * One pile. start() resolves at its first accepted login; a connection refused or lost before
 * stop() is retried after a jittered delay, as field firmware does.
 */
export class LoadPile {
  private sock: net.Socket | null = null;
  private seq = 0;
  /** seq → write time (ms) of heartbeats waiting for their reply. */
  private readonly sent = new Map<number, number>();
  private timers: NodeJS.Timeout[] = [];
  private loginTimer: NodeJS.Timeout | null = null;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private stopped = false;
  private firstLogin: (() => void) | null = null;
  loggedIn = false;
  /** hrtime ms of the last accepted login. */
  loginAt = 0;
  attempts = 0;
  readonly hb: Buffer;
  private readonly o: Required<PileOptions>;

  constructor(
    readonly no: string,
    readonly stats: LoadStats,
    opts: PileOptions,
  ) {
    this.o = {
      host: '127.0.0.1', charging: false, heartbeatMs: HEARTBEAT_MS, realtimeMs: REALTIME_MS, loginRetryMs: 10_000,
      reconnectMs: 10_000, randomPhase: true, missAfterMs: HEARTBEAT_MS, ...opts,
    };
    this.hb = encodeFrame({ type: 0x03, seq: 0, body: { pileNo: no, gunNo: 1, gunState: 0 } });
  }

  start(): Promise<void> {
    return new Promise((resolve) => {
      this.firstLogin = resolve;
      this.connect();
    });
  }

  /** Opens a connection and logs in; on refusal/loss, retries later (unless stopped). */
  connect(): void {
    if (this.stopped) return;
    this.attempts++;
    const splitter = new FrameSplitter((f) => this.onFrame(f));
    const sock = net.connect(this.o.port, this.o.host);
    this.sock = sock;
    sock.setNoDelay(true);
    sock.on('connect', () => this.login());
    sock.on('data', (d) => splitter.push(d));
    sock.on('error', () => {});
    sock.on('close', () => {
      if (this.sock !== sock) return;
      this.sock = null;
      if (!this.loggedIn) this.stats.refused++;
      else this.stats.disconnects++;
      this.halt();
      this.scheduleReconnect();
    });
  }

  private login(): void {
    this.write(encodeFrame({ type: 0x01, seq: this.next(), body: { pileNo: this.no, pileType: 0, gunCount: 1, protocolVersion: 1.5, firmwareVersion: 'BENCH', networkType: 1, iccid: '', carrier: 4 } }));
    if (this.loginTimer) clearTimeout(this.loginTimer);
    this.loginTimer = setTimeout(() => !this.loggedIn && this.sock && this.login(), this.o.loginRetryMs);
  }

  private scheduleReconnect(delayMs = this.o.reconnectMs * (0.5 + Math.random())): void {
    if (this.stopped || this.reconnectTimer) return;
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      this.connect();
    }, delayMs);
  }

  private onFrame(f: Buffer): void {
    this.stats.framesIn++;
    const type = f[5];
    if (type === 0x02) {
      if (f[6 + 7] !== 0 || this.loggedIn) return; // body: pileNo(7) result(1)
      this.loggedIn = true;
      this.loginAt = now();
      this.stats.logins++;
      if (this.loginTimer) clearTimeout(this.loginTimer);
      this.loginTimer = null;
      this.schedule();
      const r = this.firstLogin;
      this.firstLogin = null;
      r?.();
    } else if (type === 0x56) {
      // Time sync: answer 0x55 with the same body and sequence, as a pile does.
      const r = Buffer.from(f);
      r[5] = 0x55;
      this.write(withCrc(r));
    } else if (type === 0x04) {
      const seq = f[2] | (f[3] << 8);
      const t = this.sent.get(seq);
      if (t !== undefined) {
        this.stats.lat.push(now() - t);
        if (this.stats.timeline) this.stats.latAt.push(Date.now());
        this.sent.delete(seq);
      }
    }
  }

  private next(): number {
    const s = this.seq;
    this.seq = (this.seq + 1) & 0xffff;
    return s;
  }

  private write(b: Buffer): void {
    if (!this.sock) return;
    this.stats.framesOut++;
    this.sock.write(b);
  }

  /** Sends one heartbeat now (the frame is pre-encoded; only seq and CRC change). */
  heartbeat(): void {
    const t = now();
    for (const [s, at] of this.sent) {
      if (t - at > this.o.missAfterMs) {
        this.stats.missed++;
        this.sent.delete(s);
      }
    }
    const seq = this.next();
    const b = withSeq(this.hb, seq);
    this.sent.set(seq, t);
    this.write(b);
  }

  private schedule(): void {
    const hbFirst = this.o.randomPhase ? Math.random() * this.o.heartbeatMs : 0;
    this.timers.push(
      setTimeout(() => {
        this.heartbeat();
        this.timers.push(setInterval(() => this.heartbeat(), this.o.heartbeatMs));
      }, hbFirst),
    );
    if (this.o.charging) {
      const body = realtimeBody(this.no);
      const rt = () => this.write(encodeFrame({ type: 0x13, seq: this.next(), body }));
      this.timers.push(
        setTimeout(() => {
          rt();
          this.timers.push(setInterval(rt, this.o.realtimeMs));
        }, Math.random() * this.o.realtimeMs),
      );
    }
  }

  /** Stops timers; heartbeats in flight are abandoned (not counted as missed). */
  private halt(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers = [];
    if (this.loginTimer) clearTimeout(this.loginTimer);
    this.loginTimer = null;
    this.stats.abandoned += this.sent.size;
    this.sent.clear();
    this.loggedIn = false;
  }

  /** Heartbeats still unanswered after a whole period now: count them as missed. */
  settle(): void {
    const t = now();
    for (const [s, at] of this.sent) {
      if (t - at > this.o.missAfterMs) {
        this.stats.missed++;
        this.sent.delete(s);
      }
    }
  }

  /**
   * Power cut: the connection goes ('close': FIN, the gateway sees it; 'silent': left open and
   * never used again, as a dead 4G link looks), then the pile reconnects after `reconnectInMs`.
   */
  drop(mode: 'close' | 'silent', reconnectInMs: number, keep: net.Socket[]): void {
    const s = this.sock;
    this.sock = null;
    this.halt();
    if (s) {
      s.removeAllListeners('data');
      if (mode === 'close') s.destroy();
      else keep.push(s);
    }
    this.scheduleReconnect(reconnectInMs);
  }

  stop(): void {
    this.stopped = true;
    this.halt();
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    this.sock?.destroy();
    this.sock = null;
  }
}

/** Starts n piles at about `perSecond`, in slices of 50 ms; resolves when all have logged in. */
export async function ramp(piles: LoadPile[], perSecond: number): Promise<number> {
  const t0 = Date.now();
  const slice = Math.max(1, Math.round(perSecond / 20));
  const all: Promise<void>[] = [];
  for (let i = 0; i < piles.length; i += slice) {
    const started = Date.now();
    for (const p of piles.slice(i, i + slice)) all.push(p.start());
    const wait = 50 - (Date.now() - started);
    if (wait > 0) await sleep(wait);
  }
  await Promise.all(all);
  return (Date.now() - t0) / 1000;
}

// ---- child processes ---------------------------------------------------------------------------

/** Forks this very script in another role (`--role x`); resolves with the child's first message. */
export async function forkRole<T = Record<string, unknown>>(script: string, role: string, extra: string[] = [], execArgv: string[] = []): Promise<{ child: ChildProcess; hello: T }> {
  const child = fork(script, ['--role', role, ...extra], { execArgv: ['--expose-gc', ...execArgv], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const hello = await new Promise<T>((resolve, reject) => {
    child.once('message', (m) => resolve(m as T));
    child.once('exit', (code) => reject(new Error(`${role} exited with ${code} before it was ready`)));
  });
  return { child, hello };
}

let askSeq = 0;
/** Request/answer over IPC: sends { cmd, id, ...args }, resolves with the answer carrying the same id. */
export function ask<T = Record<string, unknown>>(child: ChildProcess, cmd: string, args: Record<string, unknown> = {}): Promise<T> {
  const id = ++askSeq;
  return new Promise((resolve) => {
    const on = (m: { id?: number }) => {
      if (m && m.id === id) {
        child.off('message', on);
        resolve(m as T);
      }
    };
    child.on('message', on);
    child.send({ cmd, id, ...args });
  });
}

/** Asks a child to close and waits for it to exit. */
export function closeChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.send({ cmd: 'close', id: 0 });
  return exited;
}

/** In a child: answers { cmd, id } messages with handler results (plus the id). */
export function serve(handlers: Record<string, (m: Record<string, unknown>) => unknown | Promise<unknown>>): void {
  process.on('message', async (m: { cmd: string; id: number }) => {
    const h = handlers[m.cmd];
    if (!h) return;
    const out = (await h(m as unknown as Record<string, unknown>)) ?? {};
    process.send?.({ ...(out as object), id: m.id });
  });
}

export interface ProcStats {
  rss: number;
  heapUsed: number;
  cpu: { user: number; system: number };
  at: number;
}

/** Whole-machine CPU busy % between two samples (other processes included), and load average. */
export function machine(): () => { cores: number; busyPercent: number; loadAvg1: number } {
  const sum = () => os.cpus().reduce((a, c) => {
    const t = c.times;
    a.busy += t.user + t.nice + t.sys + t.irq;
    a.all += t.user + t.nice + t.sys + t.irq + t.idle;
    return a;
  }, { busy: 0, all: 0 });
  const a = sum();
  return () => {
    const b = sum();
    return { cores: os.cpus().length, busyPercent: +(((b.busy - a.busy) / Math.max(1, b.all - a.all)) * 100).toFixed(0), loadAvg1: +os.loadavg()[0].toFixed(1) };
  };
}

/** System-wide TCP counters (Linux /proc/net): what the kernel dropped or resent, as differences. */
export function tcpCounters(): () => Record<string, number> {
  const names = ['ListenOverflows', 'ListenDrops', 'TCPSynRetrans', 'TCPTimeouts', 'RetransSegs', 'TCPReqQFullDoCookies', 'TCPAbortOnClose'];
  const read = (): Record<string, number> => {
    const out: Record<string, number> = {};
    for (const f of ['/proc/net/netstat', '/proc/net/snmp']) {
      let lines: string[];
      try {
        lines = fs.readFileSync(f, 'utf8').trim().split('\n');
      } catch {
        continue;
      }
      for (let i = 0; i + 1 < lines.length; i += 2) {
        const k = lines[i].split(/\s+/);
        const v = lines[i + 1].split(/\s+/);
        for (let j = 1; j < k.length; j++) if (names.includes(k[j])) out[k[j]] = Number(v[j]);
      }
    }
    return out;
  };
  const a = read();
  return () => {
    const b = read();
    const d: Record<string, number> = {};
    for (const k of Object.keys(b)) if (b[k] - (a[k] ?? 0)) d[k] = b[k] - (a[k] ?? 0);
    return d;
  };
}

/** Memory (after a GC when exposed) and CPU of this process. */
export function procStats(gc = true): ProcStats {
  if (gc && global.gc) global.gc();
  const m = process.memoryUsage();
  return { rss: m.rss, heapUsed: m.heapUsed, cpu: process.cpuUsage(), at: Date.now() };
}

/** CPU use between two samples, in % of one core. */
export const cpuPercent = (a: ProcStats, b: ProcStats) => +(((b.cpu.user + b.cpu.system - a.cpu.user - a.cpu.system) / 1e3 / Math.max(1, b.at - a.at)) * 100).toFixed(1);

export const mb = (bytes: number) => +(bytes / 1048576).toFixed(1);

// ---- shared child roles ------------------------------------------------------------------------

/** Event-loop delay of this process, in ms beyond the sampling interval. */
export function loopMonitor(resolutionMs = 10): { take(): { p50: number; p99: number; max: number } } {
  const h = monitorEventLoopDelay({ resolution: resolutionMs });
  h.enable();
  // The histogram records whole timer intervals: the delay is what exceeds the resolution.
  const lag = (ns: number) => +Math.max(0, ns / 1e6 - resolutionMs).toFixed(1);
  return {
    take() {
      const out = { p50: lag(h.percentile(50)), p99: lag(h.percentile(99)), max: lag(h.max) };
      h.reset();
      return out;
    },
  };
}

export interface GatewayStats extends ProcStats {
  online: number;
  connections: number;
  /** Most connections open at once since the previous stats call. */
  peakConnections: number;
  metrics: MetricsSnapshot;
  problemsByCode: Record<string, number>;
  loopDelayMs: { p50: number; p99: number; max: number };
  /** Event-loop stalls over 50 ms: [seconds from `since`, ms, CPU ms used meanwhile]. */
  stalls: Array<[number, number, number]>;
}

/**
 * A bare YkcServer in this (child) process, answering IPC: 'stats' (optionally without a forced
 * GC), 'waitOnline' { target } (resolves when that many piles are online), 'close'.
 */
export async function gatewayProcess(options: Partial<GatewayOptions>, tariff?: TariffBody): Promise<void> {
  const gw = new YkcServer(options);
  if (tariff) gw.setTariff(null, tariff);
  const problems: Record<string, number> = {};
  gw.on('problem', (p) => {
    problems[p.code] = (problems[p.code] ?? 0) + 1;
  });
  let peak = 0;
  const peakTimer = setInterval(() => (peak = Math.max(peak, gw.connectionCount())), 20);
  const loop = loopMonitor();
  const stalls = stallRecorder();
  let profiler: ReturnType<typeof startProfiler> | null = null;
  serve({
    stats: (m) => {
      const out: Omit<GatewayStats, 'id'> = {
        ...procStats(m.gc !== false),
        online: gw.onlineCount(),
        connections: gw.connectionCount(),
        peakConnections: Math.max(peak, gw.connectionCount()),
        metrics: gw.metrics(),
        problemsByCode: { ...problems },
        loopDelayMs: loop.take(),
        stalls: stalls.take(typeof m.since === 'number' ? m.since : undefined),
      };
      peak = 0;
      return out;
    },
    profileStart: () => {
      profiler = startProfiler();
      return {};
    },
    profileStop: async () => ({ top: profiler ? await profiler.stop() : [] }),
    waitOnline: (m) =>
      new Promise((resolve) => {
        const target = Number(m.target);
        const check = () => {
          if (gw.onlineCount() < target) return;
          gw.off('online', check);
          resolve({ at: Date.now(), online: gw.onlineCount() });
        };
        gw.on('online', check);
        check();
      }),
    close: async () => {
      clearInterval(peakTimer);
      await gw.close();
      setImmediate(() => process.exit(0));
      return {};
    },
  });
  const a = await gw.listen(0, '127.0.0.1');
  process.send?.({ port: a.port });
}

/** Well-behaved piles in their own process, so the attack or storm generator does not skew their timing. */
export async function probeProcess(): Promise<void> {
  const port = Number(flag('port', '0'));
  const count = Number(flag('count', '20'));
  const period = Number(flag('period', '1000'));
  const base = Number(flag('base', '32019900000000'));
  const stats = new LoadStats();
  stats.timeline = true;
  const piles = Array.from({ length: count }, (_, i) => new LoadPile(pileNo(i, base), stats, { port, heartbeatMs: period, reconnectMs: 1000 }));
  await ramp(piles, 1000);
  const loop = loopMonitor();
  let missed0 = 0;
  let disconnects0 = 0;
  serve({
    take: (m) => {
      for (const p of piles) p.settle();
      const out = {
        // Worst reply per half second since `since` (ms epoch): where in the window the slow ones were.
        worstByHalfSecond: typeof m.since === 'number' ? buckets(stats.lat, stats.latAt, m.since, 500) : undefined,
        heartbeat: { ...summarize(stats.lat), missed: stats.missed - missed0 },
        online: piles.filter((p) => p.loggedIn).length,
        disconnects: stats.disconnects - disconnects0,
        probeLoopDelayMs: loop.take(),
      };
      stats.lat.length = 0;
      stats.latAt.length = 0;
      missed0 = stats.missed;
      disconnects0 = stats.disconnects;
      return out;
    },
    close: () => {
      for (const p of piles) p.stop();
      setImmediate(() => process.exit(0));
      return {};
    },
  });
  process.send?.({ ready: true });
}

/** [seconds from t0, worst value] per bucket that has values. */
function buckets(values: number[], at: number[], t0: number, ms: number): Array<[number, number]> {
  const worst = new Map<number, number>();
  for (let i = 0; i < values.length; i++) {
    const b = Math.floor((at[i] - t0) / ms);
    if (b >= 0) worst.set(b, Math.max(worst.get(b) ?? 0, values[i]));
  }
  return [...worst].sort((a, b) => a[0] - b[0]).map(([b, v]) => [(b * ms) / 1000, Math.round(v)]);
}

/**
 * Event-loop stalls longer than `thresholdMs`, as [wall-clock ms at their end, length ms, CPU ms
 * this process used meanwhile]: CPU close to the length means our own work; much less means the
 * process waited (for a core on a busy machine, or in the kernel).
 */
export function stallRecorder(thresholdMs = 50): { take(t0?: number): Array<[number, number, number]> } {
  let stalls: Array<[number, number, number]> = [];
  let last = Date.now();
  let lastCpu = process.cpuUsage();
  const tick = setInterval(() => {
    const t = Date.now();
    const cpu = process.cpuUsage();
    if (t - last - 10 > thresholdMs) stalls.push([t, t - last - 10, Math.round((cpu.user + cpu.system - lastCpu.user - lastCpu.system) / 1000)]);
    last = t;
    lastCpu = cpu;
  }, 10);
  tick.unref();
  return {
    take(t0) {
      const out = stalls
        .filter(([t]) => t0 === undefined || t >= t0)
        .map(([t, d, c]): [number, number, number] => [t0 === undefined ? t : +((t - t0) / 1000).toFixed(2), d, c]);
      stalls = [];
      return out;
    },
  };
}

export interface ProbeTake {
  worstByHalfSecond?: Array<[number, number]>;
  heartbeat: LatencySummary & { missed: number };
  online: number;
  disconnects: number;
  probeLoopDelayMs: { p50: number; p99: number; max: number };
}

/** Counter differences between two metrics snapshots (only those that moved). */
export function counterDiff(a: MetricsSnapshot, b: MetricsSnapshot): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(b.counters)) {
    if (typeof v !== 'number') continue;
    const d = v - ((a.counters as unknown as Record<string, number>)[k] ?? 0);
    if (d) out[k] = d;
  }
  return out;
}

interface CpuProfile {
  nodes: Array<{ id: number; callFrame: { functionName: string; url: string; lineNumber: number } }>;
  samples: number[];
}

/** Starts the V8 profiler in this process; stop() returns the top functions by self time. */
export function startProfiler(): { stop(): Promise<Array<{ fn: string; selfPct: number }>> } {
  const session = new inspector.Session();
  session.connect();
  const post = (method: string, params?: object) =>
    new Promise<unknown>((resolve, reject) => session.post(method, params ?? {}, (err, res) => (err ? reject(err) : resolve(res))));
  const ready = post('Profiler.enable')
    .then(() => post('Profiler.setSamplingInterval', { interval: 200 }))
    .then(() => post('Profiler.start'));
  return {
    async stop() {
      await ready;
      const { profile } = (await post('Profiler.stop')) as { profile: CpuProfile };
      session.disconnect();
      // The whole profile, for chrome://inspect or speedscope, when asked for.
      if (process.env.YKC_PROFILE_OUT) fs.writeFileSync(`${process.env.YKC_PROFILE_OUT}-${process.pid}.cpuprofile`, JSON.stringify(profile));
      return topOfProfile(profile, 20);
    },
  };
}

/** Top functions by self time in a .cpuprofile (V8 format). */
export function topOfProfile(file: string | CpuProfile, n = 15): Array<{ fn: string; selfPct: number }> {
  const prof = typeof file === 'string' ? (JSON.parse(fs.readFileSync(file, 'utf8')) as CpuProfile) : file;
  const byId = new Map(prof.nodes.map((x) => [x.id, x]));
  const self = new Map<string, number>();
  for (const s of prof.samples) {
    const cf = byId.get(s)!.callFrame;
    const where = cf.url ? `${cf.url.replace(/^.*node_modules\//, '').replace(/^file:\/\/.*?\/(dist|build-[^/]+)\//, '')}:${cf.lineNumber + 1}` : '';
    const k = `${cf.functionName || '(anonymous)'} ${where}`.trim();
    self.set(k, (self.get(k) ?? 0) + 1);
  }
  return [...self.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([fn, c]) => ({ fn, selfPct: +((c / prof.samples.length) * 100).toFixed(1) }));
}

// ---- Node-RED --------------------------------------------------------------------------------

// The runtime's nodes directory, the wait for the ykc-server node and the close handler are the tests' own.
export { nodesDir, serverNode, stopAndExit } from '../test/support/red-child';
