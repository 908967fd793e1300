/**
 * `ykc simulate`: N virtual piles against a host:port. A one-line summary on stderr at most once
 * a second, a JSON report on stdout at the end; stops on SIGINT/SIGTERM or after --duration.
 */
import { checkFlagValues, checkKnownFlags, errorJson, parseArgs } from './args';
import { CliIo } from './io';
import { Fleet, FleetStats, Scenario } from '../simulator/fleet';
import { PileType } from '../simulator/pile';

const USAGE = `usage: ykc simulate --port P [--host 127.0.0.1] [--piles 1] [--guns 1] [--type DC|AC|mixed] [--version 1.5|1.6]
                    [--speed 1] [--scenario idle|charge|faults] [--duration S] [--base 32019900000001]
                    [--power KW] [--session-minutes 10-60] [--seed N] [--quiet]
Runs virtual piles (distinct pile numbers from --base) against a YKC platform. --speed X runs the piles'
clock X times faster (heartbeats, realtime data and charging all scale). --duration is in real seconds.
Prints a summary line on stderr every second and a JSON report on stdout at the end. Exit 1 when no pile ever
logged in (nothing listening, every login refused).`;

function num(flags: Record<string, string | true>, name: string, dflt: number, min: number, max: number, integer = true): number {
  const v = flags[name];
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isFinite(n) || (integer && !Number.isInteger(n)) || n < min || n > max) {
    throw new Error(`--${name} must be ${integer ? 'an integer' : 'a number'} from ${min} to ${max}, got ${String(v)}`);
  }
  return n;
}

function str<T extends string>(flags: Record<string, string | true>, name: string, dflt: T, allowed: readonly T[]): T {
  const v = flags[name];
  if (v === undefined) return dflt;
  if (typeof v !== 'string' || !allowed.includes(v as T)) throw new Error(`--${name} must be one of ${allowed.join(', ')}, got ${String(v)}`);
  return v as T;
}

function range(flags: Record<string, string | true>, name: string): [number, number] | undefined {
  const v = flags[name];
  if (v === undefined) return undefined;
  const m = typeof v === 'string' ? /^(\d+(?:\.\d+)?)(?:-(\d+(?:\.\d+)?))?$/.exec(v) : null;
  const lo = m ? Number(m[1]) : NaN;
  const hi = m && m[2] !== undefined ? Number(m[2]) : lo;
  if (!(lo > 0) || !(hi >= lo)) throw new Error(`--${name} must be minutes "MIN-MAX" (e.g. 10-60), got ${String(v)}`);
  return [lo, hi];
}

const OPTIONS = ['host', 'port', 'piles', 'guns', 'type', 'version', 'speed', 'scenario', 'duration', 'base', 'power', 'session-minutes', 'seed', 'quiet'];
/**
 * First pile number when --base is not given: clear of the npm start demo's piles (32010200000001–3,
 * DEMO_PILES) so `ykc simulate --port 8768` adds piles to the demo instead of taking over its own.
 */
export const DEFAULT_BASE = '32019900000001';
/** Options that take no value (the rest need one). */
const SWITCHES = ['quiet'];

export function summaryLine(s: FleetStats, framesPerSecond: number, lastProblem?: string): string {
  return (
    `online ${s.online}/${s.piles} · charging ${s.charging} · sessions ${s.sessionsStarted} started, ${s.sessionsEnded} ended` +
    ` · records ${s.recordsConfirmed}/${s.recordsConfirmed + s.pendingRecords + s.recordsAbandoned + s.recordsRefused} confirmed` +
    ` · ${Math.round(framesPerSecond)} frames/s · sim ${formatDuration(s.simulatedMs)}` +
    (s.errors ? ` · ${s.errors} failures, last: ${lastProblem ?? '?'}` : '')
  );
}

function formatDuration(ms: number): string {
  const m = Math.floor(ms / 60_000);
  return m >= 60 ? `${Math.floor(m / 60)} h ${m % 60} min` : `${m} min ${Math.floor((ms % 60_000) / 1000)} s`;
}

export async function run(args: string[], io: CliIo): Promise<number> {
  const { flags, positional } = parseArgs(args, SWITCHES);
  if (flags.help || flags.h) {
    io.out(USAGE);
    return 0;
  }
  let fleet: Fleet;
  let durationS: number;
  try {
    checkKnownFlags(flags, OPTIONS);
    checkFlagValues(flags, SWITCHES);
    if (positional.length) throw new Error(`unexpected argument ${positional[0]}`);
    if (flags.port === undefined) throw new Error('--port is required');
    const speed = num(flags, 'speed', 1, 0.001, 1_000_000, false);
    durationS = num(flags, 'duration', 0, 0, 365 * 86400, false);
    fleet = new Fleet({
      host: typeof flags.host === 'string' ? flags.host : '127.0.0.1',
      port: num(flags, 'port', 0, 1, 65535),
      piles: num(flags, 'piles', 1, 1, 100_000),
      guns: num(flags, 'guns', 1, 1, 99),
      pileType: str<PileType | 'mixed'>(flags, 'type', 'DC', ['DC', 'AC', 'mixed']),
      version: str(flags, 'version', '1.5', ['1.5', '1.6'] as const),
      speed,
      scenario: str<Scenario>(flags, 'scenario', 'idle', ['idle', 'charge', 'faults']),
      basePileNo: typeof flags.base === 'string' ? flags.base : DEFAULT_BASE,
      powerKw: flags.power === undefined ? undefined : num(flags, 'power', 60, 0.1, 10_000, false),
      seed: num(flags, 'seed', 1, 0, 2 ** 31),
      sessionMinutes: range(flags, 'session-minutes'),
    });
  } catch (e) {
    io.err(errorJson(e));
    io.err(USAGE);
    return 2;
  }
  const quiet = !!flags.quiet;
  // Connection failures are said, not hidden behind "online 0/N": one JSON line per new kind of failure
  // (e.g. ECONNREFUSED) on stderr, with how many piles hit it, and the last one in the summary line.
  const seen = new Map<string, number>();
  let lastProblem: string | undefined;
  fleet.on('problem', (p: { pileNo: string; code: string; message: string; errno?: string }) => {
    const kind = p.errno ?? p.code;
    lastProblem = `${kind} (${p.message})`;
    const n = (seen.get(kind) ?? 0) + 1;
    seen.set(kind, n);
    if (n === 1) io.err(JSON.stringify({ event: 'problem', code: p.code, errno: p.errno, message: p.message, host: fleet.options.host, port: fleet.options.port }));
  });
  // A remote update is rare and worth a line of its own: where it came from, what was fetched, the 0x93 status.
  fleet.on('ota', (e) => io.out(JSON.stringify({ event: 'ota', ...e })));
  fleet.start();
  let lastFrames = 0;
  let lastAt = performance.now();
  let fps = 0;
  const ticker = setInterval(() => {
    const s = fleet.stats();
    const now = performance.now();
    const frames = s.framesSent + s.framesReceived;
    fps = ((frames - lastFrames) * 1000) / Math.max(1, now - lastAt);
    lastFrames = frames;
    lastAt = now;
    if (!quiet) io.err(summaryLine(s, fps, lastProblem));
  }, 1000);

  await new Promise<void>((resolve) => {
    let timer: NodeJS.Timeout | null = null;
    const done = () => {
      if (timer) clearTimeout(timer);
      resolve();
    };
    io.onStop(done);
    if (durationS > 0) timer = setTimeout(done, durationS * 1000);
  });
  clearInterval(ticker);
  const s = fleet.stats();
  const o = fleet.options;
  await fleet.close();
  const frames = s.framesSent + s.framesReceived;
  io.out(
    JSON.stringify({
      event: 'report',
      host: o.host,
      port: o.port,
      scenario: fleet.scenario,
      speed: o.speed,
      piles: s.piles,
      online: s.online,
      charging: s.charging,
      elapsedMs: Math.round(s.elapsedMs),
      simulatedMs: s.simulatedMs,
      framesPerSecond: Math.round((frames * 1000) / Math.max(1, s.elapsedMs)),
      problems: Object.fromEntries(seen),
      stats: s,
    }),
  );
  // A run in which no pile ever got in is a failure a script must see, whatever the report says.
  return s.logins > 0 ? 0 : 1;
}
