/**
 * Order watchdog cost at scale (issue #14: 10 000 piles × 2 guns adds < 10 % CPU, < 2 KB per open
 * order). The gateway events of a busy site are fed, as synthetic events on a virtual clock, into
 * an OrderTracker with its journal on disk:
 *   - every gun heartbeats (0x03) every 10 s; a charging gun sends 0x13 every 15 s, an idle one every 5 min;
 *   - a charge lasts 20–60 min, a gun rests 5–30 min; each charge is 0x34 → 0x33 → 0x13… → 0x36 → 0x35 →
 *     0x13 idle → 0x3B (confirmed at once); the sweep runs once a (virtual) second.
 * CPU: process CPU time spent feeding (events built + tracker + journal writes) per virtual second
 * = the share of one core the tracker would take at that rate. Memory: heap growth per open order
 * (needs --expose-gc), all guns charging, and the CPU of a reconnect storm (every pile offline and
 * online again). Stops by itself.
 *
 *   npm run build && node --expose-gc dist/bench/orders.js [--piles 10000] [--guns 2] [--seconds 600]
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { OrderJournal, OrderTracker } from '../src/orders';
import type { FrameEvent, RecordEvent } from '../src/gateway';
import { decodeFrameAt, encodeFrame } from '../src/protocol';

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : NaN;
  return Number.isFinite(v) && v > 0 ? v : dflt;
}

const PILES = arg('piles', 10_000);
const GUNS = arg('guns', 2);
const SECONDS = arg('seconds', 600);

let seed = 12345;
const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
const between = (a: number, b: number) => a + rnd() * (b - a);

function ev(pileNo: string, type: number, body: Record<string, unknown>): FrameEvent {
  return { sessionId: 1, pileNo, remote: 'bench', loggedIn: true, version: '1.5', receivedAt: 0, frame: { type, name: '', seq: 0, encrypted: false, crcOrder: 'lo-first', body } } as FrameEvent;
}

const ZERO = '0'.repeat(32);
const wall = (ms: number) => new Date(ms + 8 * 3600_000).toISOString().replace('T', ' ').slice(0, 19);

interface Gun {
  pileNo: string;
  gunNo: number;
  tradeNo: string;
  charging: boolean;
  /** Virtual ms of the next: heartbeat, realtime, state change. */
  nextHb: number;
  nextRt: number;
  nextChange: number;
  startedAt: number;
  counter: number;
  /** Charging at the start of the run: this charge ends after a random part of its length. */
  midway: boolean;
}

function makeGuns(now: number, allCharging: boolean): Gun[] {
  const guns: Gun[] = [];
  for (let p = 0; p < PILES; p++) {
    const pileNo = String(32010400000000 + p);
    for (let g = 1; g <= GUNS; g++) {
      const charging = allCharging || rnd() < 0.6;
      guns.push({
        pileNo, gunNo: g, tradeNo: ZERO, charging: false, nextHb: now + rnd() * 10_000, nextRt: now + rnd() * 15_000,
        nextChange: charging ? now + rnd() * 1000 : now + between(60_000, 1_800_000), startedAt: 0, counter: 0, midway: charging,
      });
    }
  }
  return guns;
}

function feed(t: OrderTracker, guns: Gun[], from: number, to: number, clock: { now: number }): number {
  let events = 0;
  clock.now = from;
  for (const g of guns) if (g.gunNo === 1) t.onOnline(g.pileNo);
  for (let now = from; now < to; now += 1000) {
    clock.now = now;
    for (const g of guns) {
      if (g.nextHb <= now) {
        t.onFrame(ev(g.pileNo, 0x03, { pileNo: g.pileNo, gunNo: g.gunNo, gunState: 0 }));
        g.nextHb += 10_000;
        events++;
      }
      if (g.nextChange <= now) {
        if (!g.charging) {
          g.tradeNo = `${g.pileNo}${String(g.gunNo).padStart(2, '0')}${String(now).slice(-12)}${String(++g.counter % 10_000).padStart(4, '0')}`;
          t.onSent(ev(g.pileNo, 0x34, { tradeNo: g.tradeNo, pileNo: g.pileNo, gunNo: g.gunNo }));
          t.onFrame(ev(g.pileNo, 0x33, { tradeNo: g.tradeNo, pileNo: g.pileNo, gunNo: g.gunNo, result: 1, failReason: 0 }));
          g.charging = true;
          g.startedAt = now;
          g.nextRt = now;
          g.nextChange = now + (g.midway ? rnd() : 1) * between(1_200_000, 3_600_000);
          g.midway = false;
          events += 2;
        } else {
          const kwh = Math.round(((now - g.startedAt) / 3_600_000) * 60 * 1e4) / 1e4;
          t.onSent(ev(g.pileNo, 0x36, { pileNo: g.pileNo, gunNo: g.gunNo }));
          t.onFrame(ev(g.pileNo, 0x35, { pileNo: g.pileNo, gunNo: g.gunNo, result: 1, failReason: 0 }));
          t.onFrame(ev(g.pileNo, 0x13, { tradeNo: ZERO, pileNo: g.pileNo, gunNo: g.gunNo, gunState: 2, chargedEnergy: 0, chargedAmount: 0 }));
          const rec: RecordEvent = {
            ...ev(g.pileNo, 0x3b, {
              tradeNo: g.tradeNo, pileNo: g.pileNo, gunNo: g.gunNo, startTime: wall(g.startedAt), endTime: wall(now), meterStart: 1000, meterEnd: 1000 + kwh,
              totalEnergy: kwh, totalAmount: kwh, startType: 1, stopReason: 0x40, physicalCardNo: '0000000000000001', vin: '',
            }),
            arrival: 'new', held: false, id: g.tradeNo,
          };
          t.onRecord(rec, false);
          g.charging = false;
          g.nextRt = now + 300_000;
          g.nextChange = now + between(300_000, 1_800_000);
          events += 4;
        }
      }
      if (g.nextRt <= now) {
        const kwh = g.charging ? Math.round(((now - g.startedAt) / 3_600_000) * 60 * 1e4) / 1e4 : 0;
        t.onFrame(ev(g.pileNo, 0x13, { tradeNo: g.charging ? g.tradeNo : ZERO, pileNo: g.pileNo, gunNo: g.gunNo, gunState: g.charging ? 3 : 2, chargedEnergy: kwh, chargedAmount: kwh }));
        g.nextRt += g.charging ? 15_000 : 300_000;
        events++;
      }
    }
    t.sweep();
  }
  return events;
}

function heapUsed(): number {
  const gc = (global as { gc?: () => void }).gc;
  if (gc) {
    gc();
    gc();
  }
  return process.memoryUsage().heapUsed;
}

function main(): void {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ykc-orders-bench-'));
  const hasGc = typeof (global as { gc?: unknown }).gc === 'function';
  const out: Record<string, unknown> = { piles: PILES, guns: GUNS, virtualSeconds: SECONDS, cpus: os.cpus().length, loadavg: os.loadavg().map((x) => +x.toFixed(2)) };
  try {
    // 1. Memory: every gun charging, one open order each.
    {
      const clock = { now: 1_800_000_000_000 };
      const guns = makeGuns(clock.now, true);
      const before = heapUsed();
      const journal = new OrderJournal(path.join(dir, 'mem.jsonl'));
      const t = new OrderTracker({ sweepMs: 3_600_000, now: () => clock.now, maxOpenOrders: PILES * GUNS + 10 }, journal);
      feed(t, guns, clock.now, clock.now + 16_000, clock);
      journal.flush(); // what waits for the next batched write is not part of an order
      const open = t.openCount();
      const after = heapUsed();
      // A site-wide reconnect storm: every pile offline, then online again (each touches only its own orders).
      const piles = [...new Set(guns.map((g) => g.pileNo))];
      const c0 = process.cpuUsage();
      for (const p of piles) t.onOffline(p);
      for (const p of piles) t.onOnline(p);
      const storm = process.cpuUsage(c0);
      out.reconnectStormCpuMs = Math.round((storm.user + storm.system) / 1000);
      t.stop();
      out.openOrders = open;
      out.bytesPerOpenOrder = hasGc ? Math.round((after - before) / open) : 'run with --expose-gc';
      out.journalBytesAfterStart = fs.statSync(path.join(dir, 'mem.jsonl')).size;
    }
    // 2. CPU at realistic rates.
    {
      const clock = { now: 1_800_000_000_000 };
      const guns = makeGuns(clock.now, false);
      const file = path.join(dir, 'cpu.jsonl');
      const t = new OrderTracker({ sweepMs: 3_600_000, now: () => clock.now, maxOpenOrders: PILES * GUNS + 10 }, new OrderJournal(file));
      // Warm-up: the first minute starts the charges already running.
      feed(t, guns, clock.now, clock.now + 60_000, clock);
      const states: Record<string, number> = {};
      t.on('state', (s) => (states[s.state] = (states[s.state] ?? 0) + 1));
      const c0 = process.cpuUsage();
      const w0 = process.hrtime.bigint();
      const events = feed(t, guns, clock.now + 1000, clock.now + 1000 + SECONDS * 1000, clock);
      const cpu = process.cpuUsage(c0);
      const wallMs = Number(process.hrtime.bigint() - w0) / 1e6;
      t.stop();
      const cpuMs = (cpu.user + cpu.system) / 1000;
      out.events = events;
      out.eventsPerVirtualSecond = Math.round(events / SECONDS);
      out.stateChanges = states;
      out.openAtEnd = t.openCount();
      out.cpuMs = Math.round(cpuMs);
      out.wallMs = Math.round(wallMs);
      out.cpuPercentOfOneCore = +((cpuMs / (SECONDS * 1000)) * 100).toFixed(2);
      out.journalBytes = fs.statSync(file).size;
    }
    // 3. What attaching costs the gateway itself: with a 'sent' listener it decodes every frame it
    //    sends to build the event; at this rate that is mostly heartbeat replies (0x04), one per gun per 10 s.
    {
      const buf = encodeFrame({ type: 0x04, seq: 1, body: { pileNo: '32010400000001', gunNo: 1, reply: 0 } });
      const n = Math.round(((PILES * GUNS) / 10) * SECONDS);
      let sink = 0;
      const c0 = process.cpuUsage();
      for (let i = 0; i < n; i++) {
        const ev = { sessionId: 1, pileNo: 'x', remote: 'r', loggedIn: true, version: '1.5', frame: decodeFrameAt(buf, 0, buf.length), receivedAt: Date.now() };
        sink += ev.frame.type;
      }
      const cpu = process.cpuUsage(c0);
      out.sentEventsDecoded = n + sink * 0;
      out.sentDecodeCpuPercentOfOneCore = +((((cpu.user + cpu.system) / 1000) / (SECONDS * 1000)) * 100).toFixed(2);
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  console.log(JSON.stringify(out, null, 1));
  const pct = (out.cpuPercentOfOneCore as number) + (out.sentDecodeCpuPercentOfOneCore as number);
  const bytes = out.bytesPerOpenOrder;
  console.log(`targets: CPU ${pct.toFixed(2)} % of one core (tracker + the gateway's 'sent' events) (< 10 %: ${pct < 10 ? 'met' : 'NOT met'}), ${bytes} bytes per open order (< 2048: ${typeof bytes === 'number' ? (bytes < 2048 ? 'met' : 'NOT met') : 'not measured'})`);
}

main();
