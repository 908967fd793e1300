/**
 * Turning protocol errors into errors the Node-RED runtime routes well.
 *
 * The runtime copies `code`, `stack` and `cause` of the Error given to `done(err)` /
 * `node.error(err, msg)` into `msg.error` for Catch nodes, and builds `msg.error.message` from
 * `err.toString()`. So every error we hand over is an Error with a stable `code`; its message is the
 * precise English text from src/protocol, prefixed (when the runtime's language has one) by a short
 * translated description of the code from the node's catalogue (`<type>.errors.<CODE>`).
 */
import type { NodeAPI } from 'node-red';
import { isYkcError } from '../../src/protocol';

/** Code for failures that are not protocol errors (a bug, never an expected outcome). */
export const INTERNAL_CODE = 'YKC_INTERNAL';

export interface NodeError extends Error {
  code: string;
  details?: Record<string, unknown>;
}

/** Returns the translated description of an error code, or undefined when there is none. */
export type CodeDescriber = (code: string) => string | undefined;

/**
 * A describer backed by a node's message catalogue. Only languages that need it carry
 * `<type>.errors.<CODE>` (zh-CN does; en-US does not, since the messages are English already),
 * so a missing key means "no prefix".
 */
export function catalogueDescriber(RED: NodeAPI, type: string): CodeDescriber {
  return (code) => {
    const key = `${type}.errors.${code}`;
    let text: unknown;
    try {
      text = RED._(key, { defaultValue: '' });
    } catch {
      return undefined;
    }
    // i18next hands the key back when it is missing; the test helper's RED._ does the same.
    return typeof text === 'string' && text !== '' && !text.endsWith(key) ? text : undefined;
  };
}

/** Any thrown value → an Error with a `code`, the protocol's message and details kept. */
export function toNodeError(e: unknown, describe?: CodeDescriber): NodeError {
  let code: string;
  let message: string;
  let details: Record<string, unknown> | undefined;
  let stack: string | undefined;
  if (isYkcError(e)) {
    code = e.code;
    message = e.message;
    details = e.details;
    stack = e.stack;
  } else if (e instanceof Error) {
    const c = (e as Partial<NodeError>).code;
    code = typeof c === 'string' && c !== '' ? c : INTERNAL_CODE;
    message = e.message;
    stack = e.stack;
  } else {
    code = INTERNAL_CODE;
    message = String(e);
  }
  const prefix = describe?.(code);
  const err = new Error(prefix ? `${prefix}: ${message}` : message) as NodeError;
  err.name = 'YkcError';
  err.code = code;
  if (details) err.details = details;
  if (stack) err.stack = stack;
  return err;
}

/**
 * Caps how many errors a node reports per time window, so a noisy connection (a DTU that prepends
 * garbage to every packet) cannot flood the debug sidebar or a Catch flow. The first report after a
 * quiet spell says how many were held back.
 */
export class ErrorThrottle {
  private windowStart = -Infinity;
  private inWindow = 0;
  private held = 0;
  /** Errors held back since the node started. */
  suppressedTotal = 0;

  constructor(
    readonly limit = 10,
    readonly windowMs = 10_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** Returns null when the error must be dropped, or the number held back before this one. */
  admit(): number | null {
    const t = this.now();
    if (t - this.windowStart >= this.windowMs) {
      this.windowStart = t;
      this.inWindow = 0;
    }
    if (this.inWindow >= this.limit) {
      this.held++;
      this.suppressedTotal++;
      return null;
    }
    this.inWindow++;
    const held = this.held;
    this.held = 0;
    return held;
  }
}

interface ProblemWindow {
  start: number;
  used: number;
  held: number;
}

/**
 * Caps problem reports per code and, within a code, per pile: noise of one kind (framing errors
 * from anonymous connections, a pile that keeps sending a bad field) uses up only its own
 * allowance, so a problem of another kind (`YKC_STORE`, `YKC_LOGIN`, a record problem) or from
 * another pile still gets through. Reports marked `always` (pile takeovers) are never held back.
 * The first report of a code after some were held back says how many.
 */
export class ProblemThrottle {
  private readonly windows = new Map<string, ProblemWindow>();
  /** Reports held back since the node started. */
  suppressedTotal = 0;

  constructor(
    readonly perCode = 10,
    readonly perPile = 3,
    readonly windowMs = 10_000,
    /** Windows remembered (codes × piles); beyond it the oldest are forgotten. */
    readonly maxKeys = 2000,
    private readonly now: () => number = Date.now,
  ) {}

  private window(key: string, t: number): ProblemWindow {
    let w = this.windows.get(key);
    if (w && t - w.start >= this.windowMs) {
      // Re-inserted so the map stays ordered oldest first, for the bound below.
      this.windows.delete(key);
      w = { start: t, used: 0, held: w.held };
      this.windows.set(key, w);
    }
    if (!w) {
      w = { start: t, used: 0, held: 0 };
      this.windows.set(key, w);
      if (this.windows.size > this.maxKeys) this.windows.delete(this.windows.keys().next().value as string);
    }
    return w;
  }

  /** Returns null when the report must be dropped, else how many of its code were held back before it. */
  admit(code: string, pileNo?: string | null, always = false): number | null {
    const t = this.now();
    const c = this.window(code, t);
    const p = pileNo ? this.window(`${code}\u0000${pileNo}`, t) : null;
    if (!always && (c.used >= this.perCode || (p && p.used >= this.perPile))) {
      c.held++;
      this.suppressedTotal++;
      return null;
    }
    c.used++;
    if (p) p.used++;
    const held = c.held;
    c.held = 0;
    return held;
  }
}
