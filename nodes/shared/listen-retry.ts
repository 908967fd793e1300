/**
 * Keeps trying to listen until it works. A port that is busy at deploy (another gateway still
 * closing, a second Node-RED, `ykc serve` left running) is usually freed later: the server node
 * must then start serving without a redeploy, and say why it waits meanwhile.
 */
import { YkcError } from '../../src/protocol';

/** First wait after a failed listen. */
export const LISTEN_RETRY_FIRST_MS = 1000;
/** The wait doubles after every failure up to this (README Limits: `listenRetryMaxMs`). */
export const LISTEN_RETRY_MAX_MS = 30_000;

export interface ListenFailure {
  error: YkcError;
  /** The OS error code (EADDRINUSE, EACCES…), or the YkcError code when there is none. */
  cause: string;
  /** Failures in a row, 1 for the first. */
  attempt: number;
  retryInMs: number;
  /** True when the cause differs from the previous failure's (report it); false for a repeat. */
  changed: boolean;
}

export interface ListenLoopHooks {
  failed(f: ListenFailure): void;
  listening(afterFailures: number): void;
}

export class ListenLoop {
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;
  private lastCause: string | null = null;
  private failures = 0;
  /** Resolves once listening; rejects with YKC_CLOSED when stopped first. */
  readonly ready: Promise<void>;
  private settle!: { resolve: () => void; reject: (e: Error) => void };

  constructor(
    private readonly attempt: () => Promise<unknown>,
    private readonly hooks: ListenLoopHooks,
    private readonly limits = { firstMs: LISTEN_RETRY_FIRST_MS, maxMs: LISTEN_RETRY_MAX_MS },
  ) {
    this.ready = new Promise<void>((resolve, reject) => (this.settle = { resolve, reject }));
    this.ready.catch(() => {});
    this.run();
  }

  /** Delay before the next try after `n` failures in a row: first, 2×first, 4×first… up to max. */
  static delay(n: number, limits = { firstMs: LISTEN_RETRY_FIRST_MS, maxMs: LISTEN_RETRY_MAX_MS }): number {
    return Math.min(limits.maxMs, limits.firstMs * 2 ** Math.min(30, Math.max(0, n - 1)));
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.settle.reject(new YkcError('YKC_CLOSED', 'the server node closed before it could listen'));
  }

  private run(): void {
    this.timer = null;
    if (this.stopped) return;
    this.attempt().then(
      () => {
        if (this.stopped) return;
        this.hooks.listening(this.failures);
        this.settle.resolve();
      },
      (e: unknown) => {
        if (this.stopped) return;
        const error = e instanceof YkcError ? e : new YkcError('YKC_LISTEN', String((e as Error)?.message ?? e));
        if (error.code === 'YKC_CLOSED') return this.stop();
        this.failures++;
        const cause = String(error.details.errno ?? error.code);
        const changed = cause !== this.lastCause;
        this.lastCause = cause;
        const retryInMs = ListenLoop.delay(this.failures, this.limits);
        this.timer = setTimeout(() => this.run(), retryInMs);
        this.hooks.failed({ error, cause, attempt: this.failures, retryInMs, changed });
      },
    );
  }
}
