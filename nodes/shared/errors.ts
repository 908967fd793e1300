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
