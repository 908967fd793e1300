/**
 * Gateway load benchmark: N piles on raw sockets (not the project's simulator, to keep the load
 * generator cheap), each logging in, heartbeating every 10 s and, for a third of them, sending
 * realtime data every 15 s as a charging pile does. Prints connections held, frames/s handled,
 * heartbeat reply latency p50/p99/max, missed replies, RSS per pile and CPU of the gateway process.
 *
 *   node dist/bench/gateway.js [--piles 1000,5000,10000] [--duration 40] [--ramp 2000]
 */
import { fork, ChildProcess } from 'child_process';
import * as net from 'net';
import * as path from 'path';
import { encodeFrame, FrameSplitter } from '../src/protocol';

interface Stats {
  rss: number;
  heapUsed: number;
  cpu: { user: number; system: number };
  online: number;
  connections: number;
  frames: number;
}

const args = process.argv.slice(2);
const flag = (name: string, dflt: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] ? args[i + 1] : dflt;
};
const STEPS = flag('piles', '1000,5000,10000').split(',').map(Number);
const DURATION_S = Number(flag('duration', '40'));
const RAMP_PER_S = Number(flag('ramp', '2000'));
const HEARTBEAT_MS = 10_000;
const REALTIME_MS = 15_000;

function pileNo(i: number): string {
  return String(32010200000000 + i + 1).padStart(14, '0');
}

function realtimeBody(pile: string) {
  return {
    tradeNo: pile + '01' + '2511261200000001', pileNo: pile, gunNo: 1, gunState: 3, gunHolstered: 0, gunPlugged: 1,
    outputVoltage: 380.5, outputCurrent: 31.2, gunTemp: 35, gunCableCode: '', soc: 55, batteryMaxTemp: 30,
    chargingMinutes: 20, remainingMinutes: 40, chargedEnergy: 12.3456, lossEnergy: 12.3456, chargedAmount: 18.5184, hardwareFault: 0,
  };
}

class Pile {
  sock!: net.Socket;
  seq = 0;
  sent = new Map<number, number>();
  loggedIn = false;
  timers: NodeJS.Timeout[] = [];
  constructor(
    readonly no: string,
    readonly charging: boolean,
    readonly lat: number[],
    readonly missed: { n: number },
    readonly counts: { out: number; in: number },
  ) {}

  start(port: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const splitter = new FrameSplitter((f) => {
        this.counts.in++;
        const type = f[5];
        if (type === 0x02) {
          this.loggedIn = true;
          this.schedule();
          resolve();
        } else if (type === 0x04) {
          const seq = f[2] | (f[3] << 8);
          const t = this.sent.get(seq);
          if (t !== undefined) {
            this.lat.push(Number(process.hrtime.bigint() - BigInt(t)) / 1e6);
            this.sent.delete(seq);
          }
        }
      });
      this.sock = net.connect(port, '127.0.0.1', () => {
        this.write(encodeFrame({ type: 0x01, seq: this.next(), body: { pileNo: this.no, pileType: 0, gunCount: 1, protocolVersion: 1.5, firmwareVersion: 'BENCH', networkType: 1, iccid: '', carrier: 4 } }));
      });
      this.sock.setNoDelay(true);
      this.sock.on('data', (d) => splitter.push(d));
      this.sock.on('error', reject);
    });
  }

  private next(): number {
    const s = this.seq;
    this.seq = (this.seq + 1) & 0xffff;
    return s;
  }

  private write(b: Buffer): void {
    this.counts.out++;
    this.sock.write(b);
  }

  private schedule(): void {
    // Random phase, so N piles spread their heartbeats over the period as real fleets do.
    const hb = () => {
      const seq = this.next();
      // A heartbeat still unanswered after a whole period is a missed reply.
      for (const [s, t] of this.sent) {
        if (Number(process.hrtime.bigint() - BigInt(t)) / 1e6 > HEARTBEAT_MS) {
          this.missed.n++;
          this.sent.delete(s);
        }
      }
      this.sent.set(seq, Number(process.hrtime.bigint()));
      this.write(encodeFrame({ type: 0x03, seq, body: { pileNo: this.no, gunNo: 1, gunState: 0 } }));
    };
    this.timers.push(setTimeout(() => {
      hb();
      this.timers.push(setInterval(hb, HEARTBEAT_MS));
    }, Math.random() * HEARTBEAT_MS));
    if (this.charging) {
      const body = realtimeBody(this.no);
      const rt = () => this.write(encodeFrame({ type: 0x13, seq: this.next(), body }));
      this.timers.push(setTimeout(() => {
        rt();
        this.timers.push(setInterval(rt, REALTIME_MS));
      }, Math.random() * REALTIME_MS));
    }
  }

  stop(): void {
    for (const t of this.timers) clearTimeout(t);
    this.sock.destroy();
  }
}

function ask(child: ChildProcess, cmd: string): Promise<Stats> {
  return new Promise((resolve) => {
    const on = (m: { cmd: string } & Stats) => {
      if (m.cmd === cmd) {
        child.off('message', on);
        resolve(m);
      }
    };
    child.on('message', on);
    child.send({ cmd });
  });
}

const pct = (a: number[], p: number) => (a.length ? a[Math.min(a.length - 1, Math.floor((a.length * p) / 100))] : NaN);

async function step(n: number): Promise<void> {
  const child = fork(path.join(__dirname, 'gateway-server.js'), [], { execArgv: ['--expose-gc'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const ready = await new Promise<{ port: number; baseRss: number }>((r) => child.once('message', (m) => r(m as { port: number; baseRss: number })));
  const idle = await ask(child, 'stats');
  const lat: number[] = [];
  const missed = { n: 0 };
  const counts = { out: 0, in: 0 };
  const piles: Pile[] = [];
  const t0 = Date.now();
  const batch = Math.max(1, Math.round(RAMP_PER_S / 20));
  for (let i = 0; i < n; i += batch) {
    const group: Promise<void>[] = [];
    for (let k = i; k < Math.min(n, i + batch); k++) {
      const p = new Pile(pileNo(k), k % 3 === 0, lat, missed, counts);
      piles.push(p);
      group.push(p.start(ready.port));
    }
    await Promise.all(group);
    await new Promise((r) => setTimeout(r, 50));
  }
  const rampS = (Date.now() - t0) / 1000;
  const before = await ask(child, 'stats');
  lat.length = 0;
  const framesBefore = before.frames;
  const m0 = Date.now();
  await new Promise((r) => setTimeout(r, DURATION_S * 1000));
  const after = await ask(child, 'stats');
  const secs = (Date.now() - m0) / 1000;
  // Anything still pending longer than a period by now is missed too.
  for (const p of piles) for (const [, t] of p.sent) if (Number(process.hrtime.bigint() - BigInt(t)) / 1e6 > HEARTBEAT_MS) missed.n++;
  lat.sort((a, b) => a - b);
  const cpuS = (after.cpu.user + after.cpu.system - before.cpu.user - before.cpu.system) / 1e6;
  const perPileKb = (after.rss - idle.rss) / n / 1024;
  console.log(
    JSON.stringify({
      piles: n,
      online: after.online,
      rampSeconds: +rampS.toFixed(1),
      measureSeconds: +secs.toFixed(1),
      framesPerSecond: +((after.frames - framesBefore) / secs).toFixed(0),
      heartbeatReplies: lat.length,
      missedReplies: missed.n,
      latencyMs: { p50: +pct(lat, 50).toFixed(2), p99: +pct(lat, 99).toFixed(2), max: +(lat[lat.length - 1] ?? NaN).toFixed(2) },
      rssMB: +(after.rss / 1048576).toFixed(1),
      idleRssMB: +(idle.rss / 1048576).toFixed(1),
      rssPerPileKB: +perPileKb.toFixed(1),
      heapMB: +(after.heapUsed / 1048576).toFixed(1),
      gatewayCpuPercent: +((cpuS / secs) * 100).toFixed(1),
    }),
  );
  for (const p of piles) p.stop();
  child.send({ cmd: 'close' });
  await new Promise((r) => child.once('exit', r));
}

(async () => {
  console.log(`gateway bench: steps ${STEPS.join(', ')} piles, ${DURATION_S} s each, heartbeat ${HEARTBEAT_MS / 1000} s, realtime ${REALTIME_MS / 1000} s for 1/3 of piles`);
  for (const n of STEPS) await step(n);
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
