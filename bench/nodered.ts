/**
 * The Node-RED path under load: a real Node-RED 4 runtime (node-red as a library, RED.init + RED.start)
 * in a child process, running the flow  ykc-server → ykc-in → function (counts messages), and N
 * raw-socket piles (bench/nodered-load.ts) at protocol rates: login, heartbeat every 10 s, realtime
 * data every 15 s for a third of them (charging), time-sync commands answered. Per step prints piles
 * online, frames/s into the gateway, messages/s reaching the function node, heartbeat reply latency
 * p50/p99/max, missed replies, the time-sync command round trip, RSS and per-pile memory, CPU and
 * event-loop delay of the Node-RED process.
 *
 *   node dist/bench/nodered.js [--piles 1000,5000,10000] [--duration 40] [--ramp 1000]
 *                              [--groups all|default] [--flood] [--cpu-prof]
 *
 * --flood: during the measured window one more logged-in pile writes valid 259-byte frames as fast
 * as its socket takes them (issue #11: it took a core and raised good piles' p99 to 110–148 ms);
 * the gateway reads it at maxFramesPerSecond, so the good piles' figures should not move.
 *
 * --groups all (default) also sends every heartbeat into the flow (the worst case); "default" is
 * ykc-in's own default (no heartbeats). --cpu-prof writes a V8 profile of the Node-RED process per
 * step and prints its top functions by self time.
 *
 * Target (issue #8): ≥ 5,000 piles with zero missed heartbeat replies and p99 < 50 ms.
 */
import * as fs from 'fs';
import * as http from 'http';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import {
  ask, closeChild, cpuPercent, flag, forkRole, nodesDir, HEARTBEAT_MS, LoadPile, LoadStats, loopMonitor, machine, mb, pileNo, procStats, ProcStats, ramp, REALTIME_MS, serve, serverNode, sleep, stallRecorder, stopAndExit, summarize,
  topOfProfile,
} from './nodered-load';
import { crc16Modbus, encodeFrame } from '../src/protocol';

const ROLE = flag('role', 'main');

// ---- the Node-RED process ----------------------------------------------------------------------

interface Counter {
  n: number;
  by: Record<string, number>;
}

function flow(groups: string): unknown[] {
  const all = ['session', 'heartbeat', 'realtime', 'bms', 'billingModel', 'startRequests', 'replies', 'lock', 'records', 'gunState'];
  return [
    { id: 'bench.tab', type: 'tab', label: 'bench' },
    {
      id: 'bench.srv', type: 'ykc-server', name: 'bench', host: '127.0.0.1', port: '0', loginPolicy: 'all', autoHeartbeat: true,
      autoBillingModel: true, autoTimeSync: true, recordConfirm: 'after-store', maxConnections: '20000', persist: false, metrics: false,
    },
    { id: 'bench.in', type: 'ykc-in', z: 'bench.tab', server: 'bench.srv', ...(groups === 'all' ? { groups: all } : {}), wires: [['bench.count']] },
    {
      id: 'bench.count', type: 'function', z: 'bench.tab', name: 'count', outputs: 0, wires: [],
      func: "const c = global.get('ykcBench');\nc.n++;\nconst k = msg.ykc && msg.ykc.name || msg.topic;\nc.by[k] = (c.by[k] || 0) + 1;\nreturn null;",
    },
  ];
}

async function redProcess(): Promise<void> {
  // Loaded here only: the measuring process must not carry a Node-RED runtime.
  const RED = require('node-red');
  const userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ykc-bench-red-'));
  const counter: Counter = { n: 0, by: {} };
  fs.writeFileSync(path.join(userDir, 'flows.json'), JSON.stringify(flow(flag('groups', 'all'))));
  const server = http.createServer();
  RED.init(server, {
    userDir,
    flowFile: 'flows.json',
    nodesDir: [nodesDir(userDir, ['ykc-server', 'ykc-in'])],
    httpAdminRoot: '/red',
    httpNodeRoot: '/api',
    disableEditor: true,
    credentialSecret: false,
    functionGlobalContext: { ykcBench: counter },
    logging: { console: { level: 'warn', metrics: false, audit: false } },
    editorTheme: { projects: { enabled: false } },
  });
  await RED.start();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  type SrvNode = { ready: Promise<void>; port(): number | null; gateway: import('../src/gateway').YkcServer | null };
  const srv = await serverNode<SrvNode>(RED, 'bench.srv', { tries: 600, everyMs: 50 });
  const loop = loopMonitor();
  const stalls = stallRecorder(100);
  serve({
    stats: (m0) => {
      const gw = srv!.gateway!;
      const m = gw.metrics();
      const out = {
        ...procStats(m0.gc !== false),
        online: gw.onlineCount(),
        connections: gw.connectionCount(),
        framesIn: m.counters.framesIn,
        framesOut: m.counters.framesOut,
        connectionsRefused: m.counters.connectionsRefused,
        commandLatencyMs: m.commandLatencyMs,
        commandTimeouts: m.counters.commandTimeouts,
        flowMessages: counter.n,
        flowByName: { ...counter.by },
        loopDelayMs: loop.take(),
        stalls: stalls.take(typeof m0.since === 'number' ? m0.since : undefined),
      };
      return out;
    },
    close: stopAndExit(RED, server, userDir),
  });
  process.send?.({ port: srv.port() });
}

// ---- the measuring process ---------------------------------------------------------------------

interface RedStats extends ProcStats {
  online: number;
  connections: number;
  framesIn: number;
  framesOut: number;
  connectionsRefused: number;
  commandLatencyMs: { count: number; p50: number | null; p99: number | null; max: number | null };
  commandTimeouts: number;
  flowMessages: number;
  flowByName: Record<string, number>;
  loopDelayMs: { p50: number; p99: number; max: number };
  stalls: Array<[number, number, number]>;
}

/**
 * One logged-in pile writing valid maximum-length frames as fast as its socket drains: heartbeats
 * padded to 259 bytes (the surplus is kept as `extra`), so each is answered and reaches the flow.
 */
function flooder(port: number): { stop(): { framesSent: number } } {
  const no = pileNo(0, 32012200000000);
  const inner = Buffer.concat([Buffer.from([0, 0, 0, 0x03]), Buffer.from(no, 'hex'), Buffer.from([1, 0]), Buffer.alloc(242)]);
  const crc = crc16Modbus(inner);
  const big = Buffer.concat([Buffer.from([0x68, inner.length]), inner, Buffer.from([crc & 0xff, crc >> 8])]);
  const chunk = Buffer.concat(Array.from({ length: 64 }, () => big));
  let framesSent = 0;
  const sock = net.connect(port, '127.0.0.1');
  sock.on('error', () => {});
  sock.resume();
  sock.on('connect', () => sock.write(encodeFrame({ type: 0x01, seq: 0, body: { pileNo: no, pileType: 0, gunCount: 1, protocolVersion: 1.5, firmwareVersion: 'FLOOD', networkType: 1, iccid: '', carrier: 4 } })));
  const t = setInterval(() => {
    if (sock.writable && !sock.connecting && sock.writableLength < 65536) {
      sock.write(chunk);
      framesSent += 64;
    }
  }, 1);
  return {
    stop() {
      clearInterval(t);
      sock.destroy();
      return { framesSent };
    },
  };
}

async function step(n: number, durationS: number, rampPerS: number, groups: string, cpuProf: boolean): Promise<void> {
  const profDir = cpuProf ? fs.mkdtempSync(path.join(os.tmpdir(), 'ykc-bench-prof-')) : '';
  const { child, hello } = await forkRole<{ port: number }>(__filename, 'red', ['--groups', groups], cpuProf ? ['--cpu-prof', '--cpu-prof-dir', profDir] : []);
  const idle = await ask<RedStats>(child, 'stats');
  const stats = new LoadStats();
  const piles = Array.from({ length: n }, (_, i) => new LoadPile(pileNo(i), stats, { port: hello.port, charging: i % 3 === 0, reconnectMs: 2000 }));
  const rampS = await ramp(piles, rampPerS);
  // Let the ramp's time syncs and the first heartbeats settle before measuring.
  await sleep(2000);
  // No forced GC inside the measured window: it would show up as heartbeat latency.
  const before = await ask<RedStats>(child, 'stats', { gc: false });
  stats.lat.length = 0;
  const missedBefore = stats.missed;
  const gen0 = procStats(false);
  const box = machine();
  const flood = process.argv.includes('--flood') ? flooder(hello.port) : null;
  await sleep(durationS * 1000);
  const flooded = flood?.stop();
  const busy = box();
  for (const p of piles) p.settle();
  const lat = stats.lat.slice();
  const after = await ask<RedStats>(child, 'stats', { since: before.at });
  const gen1 = procStats(false);
  const secs = (after.at - before.at) / 1000;
  const flowRate: Record<string, number> = {};
  for (const [k, v] of Object.entries(after.flowByName)) flowRate[k] = Math.round((v - (before.flowByName[k] ?? 0)) / secs);
  console.log(
    JSON.stringify({
      piles: n,
      online: after.online,
      rampSeconds: +rampS.toFixed(1),
      refusedDuringRamp: after.connectionsRefused,
      measureSeconds: +secs.toFixed(1),
      framesInPerSecond: Math.round((after.framesIn - before.framesIn) / secs),
      framesOutPerSecond: Math.round((after.framesOut - before.framesOut) / secs),
      flowMessagesPerSecond: Math.round((after.flowMessages - before.flowMessages) / secs),
      flowMessagesByName: flowRate,
      heartbeat: { ...summarize(lat), missed: stats.missed - missedBefore },
      ...(flooded ? { flood: { framesSentPerSecond: Math.round(flooded.framesSent / secs) } } : {}),
      timeSyncRoundTripMs: after.commandLatencyMs,
      commandTimeouts: after.commandTimeouts,
      rssMB: mb(after.rss),
      idleRssMB: mb(idle.rss),
      rssPerPileKB: +((after.rss - idle.rss) / n / 1024).toFixed(1),
      heapMB: mb(after.heapUsed),
      nodeRedCpuPercent: cpuPercent(before, after),
      nodeRedLoopDelayMs: after.loopDelayMs,
      nodeRedStallsOver100ms: after.stalls,
      loadGeneratorCpuPercent: cpuPercent(gen0, gen1),
      machine: busy,
    }),
  );
  for (const p of piles) p.stop();
  await closeChild(child);
  if (cpuProf) {
    const file = fs.readdirSync(profDir).find((f) => f.endsWith('.cpuprofile'));
    if (file) {
      console.log(JSON.stringify({ piles: n, profile: path.join(profDir, file), topSelfTime: topOfProfile(path.join(profDir, file)) }));
    }
  }
}

async function main(): Promise<void> {
  const steps = flag('piles', '1000,5000,10000').split(',').map(Number);
  const durationS = Number(flag('duration', '40'));
  const rampPerS = Number(flag('ramp', '1000'));
  const groups = flag('groups', 'all');
  const cpuProf = process.argv.includes('--cpu-prof');
  console.log(
    `Node-RED bench: ykc-server → ykc-in (groups: ${groups}) → function; steps ${steps.join(', ')} piles, ${durationS} s each, ` +
      `heartbeat ${HEARTBEAT_MS / 1000} s, realtime ${REALTIME_MS / 1000} s for 1/3 of piles, ramp ${rampPerS}/s`,
  );
  for (const n of steps) await step(n, durationS, rampPerS, groups, cpuProf);
}

(ROLE === 'red' ? redProcess() : main()).catch((e) => {
  console.error(e);
  process.exit(1);
});
