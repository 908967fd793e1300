/**
 * GatewayTap: a protocol debugger's view of one YkcServer — the piles (online, and those that went
 * offline while someone watched) and their frames in both directions, decoded and as hex.
 *
 * It costs nothing until someone watches: `watch()` takes a lease (renewed by the watcher, e.g.
 * every 10 s by an open editor tab); only while a lease is alive are listeners on the gateway and
 * a bounded frame buffer kept. When the last lease expires they are dropped. Frames are handed out
 * in batches (at most every `batchMs`, at most `maxBatch` a batch; the surplus is counted, not
 * queued), so a busy gateway cannot flood the watcher.
 */
import { DecodedFrame, YkcError } from '../protocol';
import { CaptureLine, captureLine } from './capture';
import type { FrameEvent, ProblemEvent, ServerEvents, SessionEvent, YkcServer } from './server';

export interface TapFrame extends CaptureLine {
  /** Increasing per tap: the watcher asks for frames after the last id it has. */
  id: number;
  seq: number;
  type: number;
  name: string;
  frame: DecodedFrame;
}

export interface TapPile {
  pileNo: string;
  online: boolean;
  remote: string;
  version: string | null;
  firmwareVersion: string | null;
  iccid: string | null;
  pileType: string | null;
  gunCount: number | null;
  /** Online since / offline since (ms). */
  since: number | null;
  lastSeen: number | null;
  guns: unknown;
}

export interface TapLimits {
  /** Frames kept for the capture download and for a watcher that just arrived. */
  maxFrames: number;
  /** Offline piles remembered (the oldest forgotten first). */
  maxOfflinePiles: number;
  leaseMs: number;
  batchMs: number;
  maxBatch: number;
  /** Watchers holding a lease at once (editor tabs); a new one beyond is refused (YKC_LIMIT). */
  maxWatchers: number;
}

export const TAP_LIMITS: TapLimits = { maxFrames: 5000, maxOfflinePiles: 1000, leaseMs: 30_000, batchMs: 250, maxBatch: 200, maxWatchers: 64 };

export interface TapBatch {
  frames: TapFrame[];
  /** Frames that happened since the last batch but did not fit it (still in the buffer). */
  skipped: number;
}

export class GatewayTap {
  readonly limits: TapLimits;
  private readonly leases = new Map<string, number>();
  private frames: TapFrame[] = [];
  private nextId = 1;
  private readonly offline = new Map<string, { remote: string; at: number; version: string | null }>();
  private attached = false;
  private pendingBatch: TapFrame[] = [];
  private skipped = 0;
  private batchTimer: NodeJS.Timeout | null = null;
  private pilesTimer: NodeJS.Timeout | null = null;
  private leaseTimer: NodeJS.Timeout | null = null;
  private readonly onIn = (ev: FrameEvent) => this.add('in', ev);
  private readonly onOut = (ev: FrameEvent) => this.add('out', ev);
  /**
   * A frame the gateway could not use (bad CRC, undecodable body) is exactly what a debugger must
   * show: the problem carries its bytes, so it is listed (and captured) as `unreadable` with the reason.
   */
  private readonly onProblem = (p: ProblemEvent) => {
    const hex = p.details?.frameHex;
    if (typeof hex !== 'string' || !/^68(?:[0-9A-Fa-f]{2}){5,}/.test(hex)) return;
    const b = Buffer.from(hex, 'hex');
    const frame: DecodedFrame = { type: b[5], name: 'unreadable', seq: b.readUInt16LE(2), encrypted: b[4] === 1, crcOrder: 'lo-first', crcValid: p.code !== 'YKC_CRC', body: { code: p.code, message: p.message } };
    this.add('in', { pileNo: p.pileNo ?? null, frame, receivedAt: p.at, raw: hex.toUpperCase(), remote: p.remote, sessionId: p.sessionId } as FrameEvent);
  };
  private readonly onOnline = (ev: SessionEvent) => {
    if (ev.pileNo) this.offline.delete(ev.pileNo);
    this.schedulePiles();
  };
  private readonly onOffline = (ev: SessionEvent & { version?: string | null }) => {
    if (ev.pileNo) {
      this.offline.delete(ev.pileNo);
      this.offline.set(ev.pileNo, { remote: ev.remote, at: ev.at, version: ev.version ?? null });
      while (this.offline.size > this.limits.maxOfflinePiles) this.offline.delete(this.offline.keys().next().value as string);
    }
    this.schedulePiles();
  };
  private readonly onGun = () => this.schedulePiles();

  constructor(
    private readonly gateway: () => YkcServer | null,
    private readonly out: { frames(batch: TapBatch): void; piles(piles: TapPile[]): void },
    limits: Partial<TapLimits> = {},
  ) {
    this.limits = { ...TAP_LIMITS, ...limits };
  }

  /** Takes or renews a watcher's lease. Returns whether the tap is listening now. */
  watch(watcher: string): boolean {
    // Watcher names come from the client: without a bound, one that invents a new name per request
    // would grow the lease table for as long as the leases last.
    if (!this.leases.has(watcher) && this.leases.size >= this.limits.maxWatchers) {
      throw new YkcError('YKC_LIMIT', `already ${this.limits.maxWatchers} watchers (maxWatchers): close another debugger tab or wait for its lease to end`, { maxWatchers: this.limits.maxWatchers });
    }
    this.leases.set(watcher, Date.now() + this.limits.leaseMs);
    this.attach();
    return this.attached;
  }

  unwatch(watcher: string): void {
    this.leases.delete(watcher);
    if (!this.leases.size) this.detach();
  }

  get watching(): boolean {
    return this.attached;
  }

  /** Frames in the buffer, optionally of one pile and after an id. */
  recent(opts: { pileNo?: string | null; after?: number; limit?: number } = {}): TapFrame[] {
    const limit = opts.limit ?? this.limits.maxFrames;
    const out: TapFrame[] = [];
    for (let i = this.frames.length - 1; i >= 0 && out.length < limit; i--) {
      const f = this.frames[i];
      if (opts.after !== undefined && f.id <= opts.after) break;
      if (opts.pileNo && f.pileNo !== opts.pileNo) continue;
      out.push(f);
    }
    return out.reverse();
  }

  /** The buffer as capture lines (JSON lines text). */
  capture(pileNo?: string | null): string {
    return this.recent({ pileNo })
      .map((f) => {
        const { at, dir, pileNo: p, hex, remote, sessionId, type, name } = f;
        return JSON.stringify({ at, dir, pileNo: p, hex, remote, sessionId, type, name });
      })
      .join('\n');
  }

  piles(): TapPile[] {
    const gw = this.gateway();
    const list: TapPile[] = [];
    const seen = new Set<string>();
    for (const p of gw?.piles() ?? []) {
      if (!p.pileNo) continue;
      seen.add(p.pileNo);
      const info = p as typeof p & { iccid?: string | null };
      list.push({
        pileNo: p.pileNo, online: true, remote: p.remote, version: p.version, firmwareVersion: p.firmwareVersion, iccid: info.iccid ?? null,
        pileType: p.pileType, gunCount: p.gunCount, since: p.loggedInAt, lastSeen: p.lastSeen, guns: p.guns,
      });
    }
    for (const [pileNo, o] of this.offline) {
      if (seen.has(pileNo)) continue;
      list.push({ pileNo, online: false, remote: o.remote, version: o.version, firmwareVersion: null, iccid: null, pileType: null, gunCount: null, since: o.at, lastSeen: null, guns: [] });
    }
    return list.sort((a, b) => a.pileNo.localeCompare(b.pileNo));
  }

  close(): void {
    this.leases.clear();
    this.detach();
  }

  private attach(): void {
    // The lease clock runs while anyone watches, gateway or not: a redeploy leaves no gateway for a
    // moment, and the tap must pick up the new one without waiting for the watcher's next renewal.
    if (!this.leaseTimer && this.leases.size) {
      this.leaseTimer = setInterval(() => this.expire(), Math.min(1000, this.limits.leaseMs));
      this.leaseTimer.unref?.();
    }
    const gw = this.gateway();
    if (this.attached || !gw) return;
    this.attached = true;
    this.attachedTo = gw;
    for (const [event, fn] of this.listeners()) gw.on(event, fn);
  }

  /** The gateway events the tap follows, with their handlers (attached and detached together). */
  private listeners(): Array<[keyof ServerEvents, (...args: never[]) => void]> {
    return [
      ['frame', this.onIn], ['record', this.onIn], ['recordDuplicate', this.onIn], ['recordForeign', this.onIn],
      ['sent', this.onOut], ['problem', this.onProblem], ['online', this.onOnline], ['offline', this.onOffline], ['gunState', this.onGun],
    ];
  }

  private attachedTo: YkcServer | null = null;

  private detach(): void {
    this.detachListeners();
    for (const t of [this.batchTimer, this.pilesTimer]) if (t) clearTimeout(t);
    if (this.leaseTimer) clearInterval(this.leaseTimer);
    this.batchTimer = this.pilesTimer = this.leaseTimer = null;
    this.frames = [];
    this.pendingBatch = [];
    this.skipped = 0;
  }

  private detachListeners(): void {
    const gw = this.attachedTo;
    if (gw) for (const [event, fn] of this.listeners()) gw.off(event, fn);
    this.attachedTo = null;
    this.attached = false;
  }

  private expire(): void {
    const now = Date.now();
    for (const [w, until] of this.leases) if (until < now) this.leases.delete(w);
    if (!this.leases.size) this.detach();
    // The gateway was replaced (redeploy, listen retry): follow it.
    else if (this.attachedTo !== this.gateway()) {
      this.detachListeners();
      this.attach();
    }
  }

  private add(dir: 'in' | 'out', ev: FrameEvent): void {
    const line = captureLine(dir, ev);
    if (!line) return;
    const f: TapFrame = { ...line, id: this.nextId++, seq: ev.frame.seq, type: ev.frame.type, name: ev.frame.name, frame: ev.frame };
    this.frames.push(f);
    // Trim in steps, not one shift per frame: an array shift is O(n).
    if (this.frames.length > this.limits.maxFrames * 1.25) this.frames = this.frames.slice(-this.limits.maxFrames);
    if (this.pendingBatch.length < this.limits.maxBatch) this.pendingBatch.push(f);
    else this.skipped++;
    if (!this.batchTimer) {
      this.batchTimer = setTimeout(() => this.flushBatch(), this.limits.batchMs);
      this.batchTimer.unref?.();
    }
  }

  private flushBatch(): void {
    this.batchTimer = null;
    const batch = { frames: this.pendingBatch, skipped: this.skipped };
    this.pendingBatch = [];
    this.skipped = 0;
    if (batch.frames.length || batch.skipped) this.out.frames(batch);
  }

  private schedulePiles(): void {
    if (this.pilesTimer) return;
    this.pilesTimer = setTimeout(() => {
      this.pilesTimer = null;
      this.out.piles(this.piles());
    }, Math.max(this.limits.batchMs, 1000));
    this.pilesTimer.unref?.();
  }
}
