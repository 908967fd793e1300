/**
 * Replays a capture against a gateway as the pile it recorded: the pile → platform frames ("in"),
 * byte for byte, at their original pace (or faster), over one TCP connection. It answers nothing
 * on its own — no heartbeat replies, no command answers beyond those in the capture — and compares
 * what the gateway answers with what the captured platform answered:
 *
 * - every captured "out" frame that answered a replayed request (the request's reply type, after
 *   it in the capture) is expected again; the gateway's frame of that type is compared field by field;
 * - an expected answer that never comes is `missing`; a frame the gateway sends that the capture
 *   did not expect is `extra` (reported, not an error: a platform may send more than the recording).
 *
 * Fields that differ by nature between two runs (the time in 0x56, trade numbers the platform
 * generates) are listed in VOLATILE and compared for presence only.
 */
import * as net from 'net';
import { EventEmitter } from 'events';
import { CaptureLine } from '../gateway/capture';
import { decodeFrame, DecodedFrame, FrameSplitter, schemaForType, typeHex } from '../protocol';

export interface ReplayOptions {
  host: string;
  port: number;
  /** Which pile's frames to play when the capture holds several (default: the first pile in it). */
  pileNo?: string;
  /** Time factor: 2 plays twice as fast; 0 sends every frame at once after the previous answer. */
  speed?: number;
  /** How long to wait for an expected answer (ms, real time). */
  answerTimeoutMs?: number;
  /** Waits at most this long between two frames, whatever the capture says (ms). */
  maxGapMs?: number;
}

export interface ReplayDifference {
  kind: 'differs' | 'missing' | 'extra';
  type: number;
  name: string;
  /** The request that was answered, and its time in the capture. */
  request?: string;
  capturedAt?: string;
  fields?: Array<{ field: string; captured: unknown; got: unknown }>;
}

export interface ReplayReport {
  pileNo: string | null;
  sent: number;
  expected: number;
  matched: number;
  differs: number;
  missing: number;
  extra: number;
  received: number;
  elapsedMs: number;
}

/** Fields a second run legitimately changes: compared for presence, not value. */
const VOLATILE: Record<number, string[]> = {
  0x56: ['time'],
  0x34: ['tradeNo'],
  0xa4: ['tradeNo'],
  0x32: ['tradeNo'],
  0xa2: ['tradeNo'],
};

interface Expectation {
  request: DecodedFrame;
  capturedAt: string;
  captured: DecodedFrame;
}

export function compareBodies(type: number, captured: Record<string, unknown>, got: Record<string, unknown>): Array<{ field: string; captured: unknown; got: unknown }> {
  const volatile = new Set(VOLATILE[type] ?? []);
  const out: Array<{ field: string; captured: unknown; got: unknown }> = [];
  for (const k of new Set([...Object.keys(captured), ...Object.keys(got)])) {
    const a = captured[k];
    const b = got[k];
    if (volatile.has(k) ? (a === undefined) === (b === undefined) : JSON.stringify(a) === JSON.stringify(b)) continue;
    out.push({ field: k, captured: a, got: b });
  }
  return out;
}

/** A captured frame decoded for the plan; one the recording gateway could not read is kept as it is (sent, never expected to be answered). */
function decodeOrAsIs(hex: string): DecodedFrame {
  try {
    return decodeFrame(hex, { verifyCrc: false });
  } catch (e) {
    const b = Buffer.from(hex, 'hex');
    return { type: -1, name: 'unreadable', seq: b.length > 3 ? b.readUInt16LE(2) : 0, encrypted: false, crcOrder: 'lo-first', crcValid: false, body: { message: (e as Error).message } };
  }
}

/** Emits 'sent' (DecodedFrame), 'received' (DecodedFrame), 'difference' (ReplayDifference); resolves with the report. */
export class CaptureReplay extends EventEmitter {
  constructor(
    private readonly lines: CaptureLine[],
    private readonly opts: ReplayOptions,
  ) {
    super();
  }

  /** The pile played: the option, else the first pile number in the capture. */
  pileNo(): string | null {
    return this.opts.pileNo ?? this.lines.find((l) => l.pileNo)?.pileNo ?? null;
  }

  async run(): Promise<ReplayReport> {
    const pileNo = this.pileNo();
    const mine = this.lines.filter((l) => !pileNo || l.pileNo === pileNo || l.pileNo === null);
    const speed = this.opts.speed ?? 1;
    const answerTimeoutMs = this.opts.answerTimeoutMs ?? 5000;
    const maxGapMs = this.opts.maxGapMs ?? 60_000;
    const started = Date.now();
    const report: ReplayReport = { pileNo, sent: 0, expected: 0, matched: 0, differs: 0, missing: 0, extra: 0, received: 0, elapsedMs: 0 };

    // Which captured "out" frame answered which captured "in" frame: the next out frame of the reply type.
    const plan: Array<{ line: CaptureLine; frame: DecodedFrame; expect: Expectation | null }> = [];
    const used = new Set<number>();
    mine.forEach((l, i) => {
      if (l.dir !== 'in') return;
      const frame = decodeOrAsIs(l.hex);
      const replyType = schemaForType(frame.type)?.reply;
      let expect: Expectation | null = null;
      if (replyType !== undefined) {
        for (let j = i + 1; j < mine.length; j++) {
          const o = mine[j];
          if (o.dir !== 'out' || used.has(j)) continue;
          const of = decodeFrame(o.hex, { verifyCrc: false });
          if (of.type !== replyType) continue;
          used.add(j);
          expect = { request: frame, capturedAt: o.at, captured: of };
          break;
        }
      }
      plan.push({ line: l, frame, expect });
    });

    const sock = net.connect({ host: this.opts.host, port: this.opts.port });
    await new Promise<void>((resolve, reject) => {
      sock.once('connect', () => resolve());
      sock.once('error', reject);
    });
    sock.on('error', () => {});
    sock.setNoDelay(true);
    const waiting: Array<{ exp: Expectation; resolve: (f: DecodedFrame | null) => void; timer: NodeJS.Timeout }> = [];
    let closed = false;
    sock.on('close', () => {
      closed = true;
      for (const w of waiting.splice(0)) {
        clearTimeout(w.timer);
        w.resolve(null);
      }
    });
    const splitter = new FrameSplitter(
      (buf) => {
        let f: DecodedFrame;
        try {
          f = decodeFrame(buf);
        } catch {
          return;
        }
        report.received++;
        this.emit('received', f);
        const i = waiting.findIndex((w) => w.exp.captured.type === f.type);
        if (i >= 0) {
          const [w] = waiting.splice(i, 1);
          clearTimeout(w.timer);
          w.resolve(f);
          return;
        }
        report.extra++;
        this.difference({ kind: 'extra', type: f.type, name: f.name });
      },
      () => {},
    );
    sock.on('data', (c: Buffer) => splitter.push(c));

    const expectations: Array<Promise<void>> = [];
    let prevAt: number | null = null;
    for (const step of plan) {
      if (closed) break;
      const at = Date.parse(step.line.at);
      if (prevAt !== null && speed > 0) {
        const gap = Math.min(maxGapMs, Math.max(0, (at - prevAt) / speed));
        if (gap > 0) await new Promise((r) => setTimeout(r, gap));
      }
      prevAt = at;
      const exp = step.expect;
      let answered: Promise<DecodedFrame | null> | null = null;
      if (exp) {
        report.expected++;
        answered = new Promise((resolve) => {
          const w = { exp, resolve, timer: setTimeout(() => {
            const k = waiting.indexOf(w);
            if (k >= 0) waiting.splice(k, 1);
            resolve(null);
          }, answerTimeoutMs) };
          waiting.push(w);
        });
      }
      sock.write(Buffer.from(step.line.hex, 'hex'));
      report.sent++;
      this.emit('sent', step.frame);
      if (exp && answered) {
        const judged = answered.then((got) => this.judge(exp, got, report));
        expectations.push(judged);
        // Without a pace, wait for each answer before the next frame, as a pile would.
        if (speed === 0) await judged;
      }
    }
    await Promise.all(expectations);
    sock.end();
    setTimeout(() => sock.destroy(), 500).unref?.();
    report.elapsedMs = Date.now() - started;
    return report;
  }

  private judge(exp: Expectation, got: DecodedFrame | null, report: ReplayReport): void {
    const base = { type: exp.captured.type, name: exp.captured.name, request: `${typeHex(exp.request.type)} ${exp.request.name}`, capturedAt: exp.capturedAt };
    if (!got) {
      report.missing++;
      this.difference({ kind: 'missing', ...base });
      return;
    }
    const fields = compareBodies(exp.captured.type, exp.captured.body, got.body);
    if (fields.length) {
      report.differs++;
      this.difference({ kind: 'differs', ...base, fields });
    } else report.matched++;
  }

  private difference(d: ReplayDifference): void {
    this.emit('difference', d);
  }
}
