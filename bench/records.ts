/**
 * Transaction records under pressure (issue #11).
 *
 * (a) journal: the cost per record of the record journal (src/gateway/journal.ts) with 10,000
 *     entries already held — a record handed over (hold: an appended line, batched; compaction
 *     amortised), a confirmation without and with fsync. In this process, on a temporary file.
 * (b) flood: a real Node-RED 4 runtime in a child process (ykc-server "confirm after store" with its
 *     journal in the user directory → ykc-in records → a function that never confirms), one pile
 *     flooding distinct records as fast as its socket takes them (a process of its own), and 100
 *     raw-socket piles heartbeating every 2 s, measured first without the flood (the machine's own
 *     noise). Prints the good piles' missed replies and p50/p99/max, Node-RED's RSS growth, the
 *     records that reached the flow and those refused by the bounds (maxHeldRecordsPerPile).
 *
 *   node dist/bench/records.js [--seconds 60] [--piles 100] [--only journal|flood]
 *
 * Targets: (a) < 20 µs per record with 10,000 held; (b) 0 missed, p99 < 50 ms, RSS growth < 100 MB.
 * The flooding pile reconnects if the gateway closes it (a per-connection rate limit may do that).
 */
import * as fs from 'fs';
import * as http from 'http';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import { FileJournal, PendingRecord, RecordBook } from '../src/gateway';
import { rawFrame } from '../test/support/raw';
import { loadVectors } from '../test/support/repo';
import { ask, closeChild, cpuPercent, flag, forkRole, LoadPile, LoadStats, loopMonitor, machine, mb, nodesDir, pileNo, procStats, ProcStats, ramp, serve, serverNode, sleep, stopAndExit, summarize } from './nodered-load';

const ROLE = flag('role', 'main');
const FLOOD_PILE = '32019900000001';

// ---- (a) the journal ---------------------------------------------------------------------------

async function journalCost(): Promise<Record<string, unknown>> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ykc-bench-journal-'));
  const file = path.join(dir, 'records.jsonl');
  const held = 10_000;
  const book = new RecordBook(held, new FileJournal(file));
  const rec = (n: number): PendingRecord => ({
    pileNo: pileNo(n % 500), tradeNo: String(n).padStart(32, '0'), id: n.toString(16).padStart(16, '0'), seq: n & 0xffff, type: 0x3b, receivedAt: Date.now(), resends: 0, timer: null,
  });
  for (let n = 0; n < held; n++) book.hold(rec(n));
  // CPU time (this process's user + system) is the work per record; wall time adds what other
  // processes on a loaded machine take from it, and the disk's flushes.
  // The event loop runs every 100 records, as in a gateway: a rewrite's fsync completes off it
  // (its wait is neither CPU nor counted in the wall time, which sums the records' own times).
  const timeIt = async (count: number, work: (n: number) => void): Promise<{ cpuUs: number; wallUs: number; maxMs: number }> => {
    const c0 = process.cpuUsage();
    let wall = 0n;
    let max = 0n;
    for (let i = 0; i < count; i++) {
      const t0 = process.hrtime.bigint();
      work(i);
      const d = process.hrtime.bigint() - t0;
      wall += d;
      if (d > max) max = d;
      if (i % 100 === 99) await new Promise((r) => setImmediate(r));
    }
    const c = process.cpuUsage(c0);
    return { cpuUs: +((c.user + c.system) / count).toFixed(2), wallUs: +(Number(wall) / 1e3 / count).toFixed(2), maxMs: +(Number(max) / 1e6).toFixed(1) };
  };
  // Hold + confirm cycles on top of the 10,000 held: each appends two lines; compaction is included.
  const cycles = 50_000;
  const recs = Array.from({ length: cycles }, (_, i) => rec(held + i));
  const hold = await timeIt(cycles, (i) => book.hold(recs[i]));
  const confirm = await timeIt(cycles, (i) => book.markConfirmed(recs[i], 0, false));
  const durable = 300;
  const fsync = await timeIt(durable, (i) => {
    const r = rec(held + cycles + i);
    book.hold(r);
    book.markConfirmed(r, 0, true);
  });
  book.close();
  const lines = fs.readFileSync(file, 'utf8').split('\n').length - 1;
  fs.rmSync(dir, { recursive: true, force: true });
  return {
    entriesHeld: held,
    holdPerRecord: hold,
    confirmPerRecord: confirm,
    confirmDurablePerRecord: fsync,
    fileLinesAtEnd: lines,
    target: 'hold and confirm < 20 µs CPU per record (durable confirmations pay one fdatasync each)',
    machine: { cores: os.cpus().length, loadAvg1: +os.loadavg()[0].toFixed(1) },
  };
}

// ---- (b) the Node-RED process ------------------------------------------------------------------

function flow(): unknown[] {
  return [
    { id: 'rb.tab', type: 'tab', label: 'records bench' },
    {
      id: 'rb.srv', type: 'ykc-server', name: 'bench', host: '127.0.0.1', port: '0', loginPolicy: 'all', autoHeartbeat: true,
      autoBillingModel: true, autoTimeSync: false, recordConfirm: 'after-store', maxConnections: '20000', persist: true, metrics: false,
    },
    { id: 'rb.in', type: 'ykc-in', z: 'rb.tab', server: 'rb.srv', groups: ['records', 'session', 'problems'], wires: [['rb.count']] },
    // Stores nothing and confirms nothing: every record stays held until its hold expires.
    { id: 'rb.count', type: 'function', z: 'rb.tab', name: 'count', outputs: 0, wires: [], func: "const c = global.get('ykcBench');\nc[msg.ykc && msg.ykc.name || 'other'] = (c[msg.ykc && msg.ykc.name || 'other'] || 0) + 1;\nreturn null;" },
  ];
}

async function redProcess(): Promise<void> {
  const RED = require('node-red');
  const userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ykc-bench-records-'));
  const counter: Record<string, number> = {};
  fs.writeFileSync(path.join(userDir, 'flows.json'), JSON.stringify(flow()));
  const server = http.createServer();
  RED.init(server, {
    userDir, flowFile: 'flows.json', nodesDir: [nodesDir(userDir, ['ykc-server', 'ykc-in'])], httpAdminRoot: '/red', httpNodeRoot: '/api',
    disableEditor: true, credentialSecret: false, functionGlobalContext: { ykcBench: counter },
    logging: { console: { level: 'off', metrics: false, audit: false } }, editorTheme: { projects: { enabled: false } },
  });
  await RED.start();
  type SrvNode = { ready: Promise<void>; port(): number | null; gateway: import('../src/gateway').YkcServer | null };
  const srv = await serverNode<SrvNode>(RED, 'rb.srv', { tries: 600, everyMs: 50 });
  const loop = loopMonitor();
  serve({
    stats: (m) => {
      const g = srv!.gateway!.metrics();
      const journal = path.join(userDir, 'ykc', 'records-rb.srv.jsonl');
      return {
        ...procStats(m.gc !== false),
        counters: g.counters,
        recordsPending: g.gauges.recordsPending,
        flow: { ...counter },
        loopDelayMs: loop.take(),
        journalBytes: fs.existsSync(journal) ? fs.statSync(journal).size : 0,
      };
    },
    close: stopAndExit(RED, server, userDir),
  });
  process.send?.({ port: srv.port() });
}

// ---- (b) the measuring process -----------------------------------------------------------------

interface RedStats extends ProcStats {
  counters: Record<string, number>;
  recordsPending: number;
  flow: Record<string, number>;
  loopDelayMs: { p50: number; p99: number; max: number };
  journalBytes: number;
}

/** One pile writing distinct 0x3B records (the captured body, a new trade number each) as fast as its socket drains. */
class FloodPile {
  sent = 0;
  connections = 0;
  private sock: net.Socket | null = null;
  private stopped = false;
  private readonly body = loadVectors().find((v) => v.type === '0x3B' && v.kind === 'captured (test input)')!.hex.slice(12, -4);

  constructor(private readonly port: number) {}

  start(): void {
    if (this.stopped) return;
    const sock = net.connect(this.port, '127.0.0.1');
    this.sock = sock;
    this.connections++;
    sock.on('error', () => {});
    sock.on('data', () => {}); // replies (login, heartbeat) are read and dropped
    sock.on('close', () => {
      if (!this.stopped) setTimeout(() => this.start(), 200);
    });
    sock.on('connect', () => {
      sock.write(rawFrame(0x01, `${FLOOD_PILE}00010F${Buffer.from('FLOODER1').toString('hex')}01${'00'.repeat(10)}04`, '0000'));
      // The login answer is not awaited: frames before it are reported, never answered; the flood goes on.
      setTimeout(() => this.pump(sock), 200);
    });
  }

  /** Up to 64 frames per turn of this process's event loop (a local socket rarely says "full"), more once drained. */
  private pump(sock: net.Socket): void {
    for (let i = 0; i < 64; i++) {
      if (this.stopped || sock.destroyed) return;
      const n = ++this.sent;
      const trade = FLOOD_PILE + '01' + String(n).padStart(16, '0');
      const body = trade + FLOOD_PILE + this.body.slice(46);
      const seq = Buffer.from([n & 0xff, (n >>> 8) & 0xff]).toString('hex');
      if (!sock.write(rawFrame(0x3b, body, seq))) {
        sock.once('drain', () => this.pump(sock));
        return;
      }
    }
    setImmediate(() => this.pump(sock));
  }

  stop(): void {
    this.stopped = true;
    this.sock?.destroy();
  }
}

/** The flooding pile in a process of its own, so its writing does not delay the good piles' timing. */
async function floodProcess(): Promise<void> {
  const flooder = new FloodPile(Number(flag('port', '0')));
  flooder.start();
  serve({
    stats: () => ({ sent: flooder.sent, connections: flooder.connections }),
    close: () => {
      flooder.stop();
      setImmediate(() => process.exit(0));
      return {};
    },
  });
  process.send?.({ started: true });
}

async function flood(seconds: number, goodPiles: number): Promise<Record<string, unknown>> {
  const { child, hello } = await forkRole<{ port: number }>(__filename, 'red');
  const stats = new LoadStats();
  const piles = Array.from({ length: goodPiles }, (_, i) => new LoadPile(pileNo(i), stats, { port: hello.port, heartbeatMs: 2000, missAfterMs: 10_000, reconnectMs: 2000 }));
  await ramp(piles, 500);
  await sleep(2000);
  // The same piles without the flood first: what this machine's load alone does to the replies.
  const baselineS = Math.min(20, seconds);
  stats.lat.length = 0;
  const missedB = stats.missed;
  await sleep(baselineS * 1000);
  const baseline = { seconds: baselineS, ...summarize(stats.lat), missed: stats.missed - missedB };
  const before = await ask<RedStats>(child, 'stats');
  stats.lat.length = 0;
  const missed0 = stats.missed;
  const box = machine();
  const { child: flooderChild } = await forkRole(__filename, 'flood', ['--port', String(hello.port)]);
  await sleep(seconds * 1000);
  const flooder = await ask<{ sent: number; connections: number }>(flooderChild, 'stats');
  await closeChild(flooderChild);
  for (const p of piles) p.settle();
  const busy = box();
  const during = await ask<RedStats>(child, 'stats', { gc: false });
  const after = await ask<RedStats>(child, 'stats');
  for (const p of piles) p.stop();
  await closeChild(child);
  const c = (k: string) => (during.counters[k] ?? 0) - (before.counters[k] ?? 0);
  return {
    seconds,
    goodPiles,
    heartbeatPeriodMs: 2000,
    goodHeartbeatsWithoutFlood: baseline,
    goodHeartbeats: { ...summarize(stats.lat), missed: stats.missed - missed0 },
    flood: {
      recordsSent: flooder.sent,
      connections: flooder.connections,
      recordsReceivedByGateway: c('recordsReceived'),
      handedToFlow: (during.flow.transactionRecord ?? 0) - (before.flow.transactionRecord ?? 0),
      refusedOverLimit: c('recordsOverLimit'),
      heldAtEnd: during.recordsPending,
      problemsInFlow: (during.flow.problem ?? 0) - (before.flow.problem ?? 0),
    },
    nodeRed: {
      rssBeforeMB: mb(before.rss),
      rssAfterMB: mb(during.rss),
      rssGrowthMB: mb(during.rss - before.rss),
      rssAfterGcMB: mb(after.rss),
      heapAfterGcMB: mb(after.heapUsed),
      cpuPercent: cpuPercent(before, during),
      loopDelayMs: during.loopDelayMs,
      journalKB: +(during.journalBytes / 1024).toFixed(1),
    },
    machine: busy,
    targets: 'good piles 0 missed, p99 < 50 ms; RSS growth < 100 MB',
  };
}

async function main(): Promise<void> {
  const seconds = Number(flag('seconds', '60'));
  const goodPiles = Number(flag('piles', '100'));
  const only = flag('only', '');
  console.log(`records bench: (a) journal cost with 10,000 held; (b) one pile flooding distinct records for ${seconds} s while ${goodPiles} piles heartbeat every 2 s, through Node-RED`);
  if (only !== 'flood') console.log(JSON.stringify({ journal: await journalCost() }));
  if (only !== 'journal') console.log(JSON.stringify({ flood: await flood(seconds, goodPiles) }));
}

(ROLE === 'red' ? redProcess() : ROLE === 'flood' ? floodProcess() : main()).catch((e) => {
  console.error(e);
  process.exit(1);
});
