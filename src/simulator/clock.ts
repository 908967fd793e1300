/**
 * Simulated time. A virtual pile never calls Date.now() or setTimeout() itself: it asks a Clock,
 * so a test or a load run can compress hours of protocol time (heartbeats, 15-s realtime frames,
 * a 2-hour charge) into seconds, and energy is computed on the simulated time line.
 *
 * - ScaledClock: real time multiplied by `speed` (1 = real time). Timers fire after ms / speed.
 * - ManualClock: time moves only when a test calls advance(); timers fire in order, exactly.
 */

/** An opaque handle returned by Clock.setTimer. */
export interface ClockTimer {
  readonly due: number;
}

export interface Clock {
  /** Simulated epoch milliseconds (the pile's monotonic time line; wall-clock skew is the pile's business). */
  now(): number;
  /** Runs fn once after `ms` of simulated time. */
  setTimer(fn: () => void, ms: number): ClockTimer;
  clearTimer(t: ClockTimer): void;
  /** Simulated ms per real ms (1 = real time); informational for rate figures. */
  readonly speed: number;
}

interface ScaledTimer extends ClockTimer {
  handle: NodeJS.Timeout;
}

export class ScaledClock implements Clock {
  readonly speed: number;
  private readonly simOrigin: number;
  private readonly realOrigin: number;

  /** `startAt` is the simulated epoch ms at creation (default: the real time now). */
  constructor(speed = 1, startAt?: number) {
    if (!(speed > 0) || !Number.isFinite(speed)) throw new RangeError(`clock speed must be a positive number, got ${speed}`);
    this.speed = speed;
    this.realOrigin = performance.now();
    this.simOrigin = startAt ?? Date.now();
  }

  now(): number {
    return Math.floor(this.simOrigin + (performance.now() - this.realOrigin) * this.speed);
  }

  setTimer(fn: () => void, ms: number): ClockTimer {
    const delay = Math.max(0, ms) / this.speed;
    const t: ScaledTimer = { due: this.now() + Math.max(0, ms), handle: setTimeout(fn, delay) };
    return t;
  }

  clearTimer(t: ClockTimer): void {
    clearTimeout((t as ScaledTimer).handle);
  }
}

interface ManualTimer extends ClockTimer {
  fn: () => void;
  order: number;
  cancelled: boolean;
}

export class ManualClock implements Clock {
  readonly speed = Infinity;
  private t: number;
  private timers: ManualTimer[] = [];
  private order = 0;

  constructor(startAt = Date.UTC(2025, 0, 6, 0, 0, 0)) {
    this.t = startAt;
  }

  now(): number {
    return this.t;
  }

  setTimer(fn: () => void, ms: number): ClockTimer {
    const timer: ManualTimer = { due: this.t + Math.max(0, ms), fn, order: this.order++, cancelled: false };
    this.timers.push(timer);
    return timer;
  }

  clearTimer(t: ClockTimer): void {
    (t as ManualTimer).cancelled = true;
    this.timers = this.timers.filter((x) => x !== t);
  }

  /** Timers still waiting. */
  get pending(): number {
    return this.timers.length;
  }

  /** Moves time forward by ms, firing every timer that falls due, in due order, synchronously. */
  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      let next: ManualTimer | undefined;
      for (const x of this.timers) if (x.due <= end && (!next || x.due < next.due || (x.due === next.due && x.order < next.order))) next = x;
      if (!next) break;
      this.timers = this.timers.filter((x) => x !== next);
      this.t = Math.max(this.t, next.due);
      next.fn();
    }
    this.t = end;
  }

  /**
   * Advances in steps of `step` ms, letting the event loop run (socket I/O, replies) between
   * steps, so a pile talking to a real server over loopback keeps up with the moved time.
   */
  async advanceAsync(ms: number, step = 1000): Promise<void> {
    let left = ms;
    while (left > 0) {
      const d = Math.min(step, left);
      this.advance(d);
      left -= d;
      await new Promise<void>((r) => setImmediate(r));
    }
  }
}

/**
 * The timers one owner (a pile, a gun) holds, so close() can cancel all of them at once and a
 * named timer can be re-armed without leaking the previous one.
 */
export class TimerSet {
  private readonly named = new Map<string, ClockTimer>();
  private readonly anon = new Set<ClockTimer>();

  constructor(private readonly clock: Clock) {}

  /** (Re)arms the timer called `name`: any previous one with that name is cancelled. */
  set(name: string, ms: number, fn: () => void): void {
    this.clear(name);
    const t = this.clock.setTimer(() => {
      if (this.named.get(name) === t) this.named.delete(name);
      fn();
    }, ms);
    this.named.set(name, t);
  }

  /** A one-off timer with no name. */
  once(ms: number, fn: () => void): void {
    const t = this.clock.setTimer(() => {
      this.anon.delete(t);
      fn();
    }, ms);
    this.anon.add(t);
  }

  has(name: string): boolean {
    return this.named.has(name);
  }

  clear(name: string): void {
    const t = this.named.get(name);
    if (t) {
      this.clock.clearTimer(t);
      this.named.delete(name);
    }
  }

  /** Cancels every timer whose name starts with prefix. */
  clearPrefix(prefix: string): void {
    for (const name of [...this.named.keys()]) if (name.startsWith(prefix)) this.clear(name);
  }

  clearAll(): void {
    for (const t of this.named.values()) this.clock.clearTimer(t);
    for (const t of this.anon) this.clock.clearTimer(t);
    this.named.clear();
    this.anon.clear();
  }

  get size(): number {
    return this.named.size + this.anon.size;
  }
}
