/**
 * The behaviour every command node shares (docs/architecture.md §2 and §5, docs/commands.md):
 *
 * - the target pile from msg.payload.pileNo, then msg.ykc.pileNo, then the node's "pile" property
 *   (a typedInput: str / msg / flow / global); the gun the same way (payload.gunNo, ykc.gunNo, config);
 * - the fields from msg.payload, in the shape of the decoded body of the frame sent, over the
 *   node's configured fields; everything is checked (by the encoder) before anything is sent;
 * - one request in flight per lane across all nodes of one server, others queued (at most QUEUE_LIMIT
 *   waiting per lane, then YKC_LIMIT); a lane is a pile and frame type, plus the gun for gun
 *   commands (laneKey);
 * - three outputs: 1 accepted, 2 refused (the pile's reason code and readable name), 3 no answer /
 *   offline / error; failures and refusals also go to done(err) with a stable `code`
 *   (refusals as YKC_REJECTED unless the node's "refusalError" box is cleared);
 * - the input msg passes through: payload becomes the reply's decoded body, msg.ykc describes the
 *   reply and the request; on output 3 the payload is left as it came in (so the msg can be retried);
 * - status: blue waiting, green accepted, red dot refused, red ring no answer / bad input, grey offline.
 *
 * Nodes stay thin: they turn a msg into one or more Exchanges (what to send and how to judge the
 * answer); the runner does targets, lanes, outputs, status and errors.
 */
import type { Node, NodeAPI, NodeDef, NodeMessage, NodeMessageInFlow, NodeStatus } from 'node-red';
import type { YkcServer } from '../../src/gateway';
import { Body, decodeFrame, DecodedFrame, encodeFrame, isYkcError, maskFrame, schemaForType, WallTime, wallTimeOf, YkcError } from '../../src/protocol';
import { catalogueDescriber, CodeDescriber, NodeError, toNodeError } from './errors';
import { YkcServerNode } from './server-node';

/** Requests that may wait behind the one in flight, per lane (pile, gun for gun commands, frame type). */
export const QUEUE_LIMIT = 16;

/** Dialog properties every command node has. */
export interface CommandDef extends NodeDef {
  server: string;
  /** Target pile: 14 digits (str), or where to read it (msg / flow / global). */
  pile?: string;
  pileType?: string;
  gun?: string | number;
  /** Seconds to wait for the pile's answer; empty = the server's request timeout. */
  timeout?: string | number;
  /** Refusals also go to done(err) (Catch nodes) with code YKC_REJECTED. Default true. */
  refusalError?: boolean;
}

export type Outcome = 'accepted' | 'refused' | 'timeout' | 'offline' | 'error';

export interface Reason {
  code: unknown;
  /** The readable English name from the protocol's enumeration (e.g. "gun not plugged in"). */
  name: string;
  /** Catalogue table (`<type>.reasons.<table>.<code>`) holding its translation. */
  table?: string;
}

/** What an exchange ends with when the pile answered (or the frame needs no answer). */
export interface Answer {
  accepted: boolean;
  payload: Record<string, unknown>;
  /** The reply frame (the last one of a multi-frame exchange); null when nothing answers. */
  frame: DecodedFrame | null;
  reason?: Reason;
  /** Extra identifiers for msg.ykc (e.g. latePlug: true). */
  ids?: Record<string, unknown>;
  /** Something that follows the answer (ykc-start: charging confirmed or a start timeout). */
  after?: Promise<FollowUp | null>;
}

/** A later event about the same request, sent on the node's 4th output. */
export interface FollowUp {
  event: string;
  payload: Record<string, unknown>;
  /** Also reported to Catch nodes. */
  error?: NodeError;
  status?: NodeStatus;
}

export interface RunContext {
  gw: YkcServer;
  pileNo: string;
  timeoutMs: number | undefined;
  /** Sends an interim event on the 4th output (ykc-start's "waitingForPlug"). */
  progress(event: string, payload: Record<string, unknown>, status?: NodeStatus): void;
}

export interface Exchange {
  /** The frame type requests are serialised by (one in flight per lane, see laneKey). */
  laneType: number;
  /** The frame sent, for msg.ykc.request. */
  request: { type: number; name: string };
  /** Request identifiers copied into msg.ykc (tradeNo, gunNo, parallelNo…). */
  ids: Record<string, unknown>;
  run(ctx: RunContext): Promise<Answer>;
}

/** One exchange with one pile (pileNo null: no pile involved, e.g. answering a login). */
export interface Plan {
  pileNo: string | null;
  exchange: Exchange;
}

export interface Plans {
  plans: Plan[];
  /** Targets given as a list or "*": one msg per pile, errors per pile, done() once. */
  multi: boolean;
}

export type Judge = (body: Record<string, unknown>) => { accepted: boolean; reason?: Reason };

/** Accepted when body[field] === ok; otherwise the reason is body[reasonField] (default: field itself). */
export function resultJudge(opts: { field?: string; ok: number; reasonField?: string; table?: string }): Judge {
  const field = opts.field ?? 'result';
  return (body) => {
    if (body[field] === opts.ok) return { accepted: true };
    const rf = opts.reasonField ?? field;
    return { accepted: false, reason: { code: body[rf], name: String(body[`${rf}Name`] ?? body[rf]), table: opts.table } };
  };
}

export const alwaysAccepted: Judge = () => ({ accepted: true });

/** Input errors: the code YKC_FIELD (or another), the message from the node's catalogue. */
export function inputError(RED: NodeAPI, type: string, key: string, params: Record<string, unknown> = {}, code = 'YKC_FIELD'): NodeError {
  const err = new Error(RED._(`${type}.errors.${key}`, params as Record<string, string>)) as NodeError;
  err.name = 'YkcError';
  err.code = code;
  err.details = params;
  LOCALISED.add(err);
  return err;
}

/** Errors whose message already comes from the catalogue: no translated code prefix in front. */
const LOCALISED = new WeakSet<Error>();

/** Tariff validation and other domain errors are bad input from the flow's point of view. */
export function asFieldError(e: unknown): unknown {
  if (isYkcError(e) && (e.code === 'YKC_TARIFF' || e.code === 'YKC_INPUT')) return new YkcError('YKC_FIELD', e.message, { ...e.details, cause: e.code });
  return e;
}

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v) && !Buffer.isBuffer(v) && !(v instanceof Date);

/** msg.payload when it is an object, else {} (an inject's timestamp just triggers the configured command). */
export function payloadOf(msg: NodeMessage): Record<string, unknown> {
  return isPlainObject(msg.payload) ? msg.payload : {};
}

export function ykcOf(msg: NodeMessage): Record<string, unknown> {
  const y = (msg as { ykc?: unknown }).ykc;
  return isPlainObject(y) ? y : {};
}

export const present = (v: unknown): boolean => v !== undefined && v !== null && v !== '';

/** Config values that were left empty do not override anything. */
export function definedOnly(o: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) if (present(v)) out[k] = v;
  return out;
}

/** Decimal text ("100.5") → number; anything else unchanged (the encoder judges it). */
export function numeric(v: unknown): unknown {
  return typeof v === 'string' && /^\s*-?\d+(\.\d+)?\s*$/.test(v) ? Number(v) : v;
}

// ---- trade numbers -----------------------------------------------------------------------------

let tradeCounter = 0;
const pad = (n: number, w = 2) => String(n).padStart(w, '0');

/** yyMMddHHmmss of an instant in a fixed-offset zone (China: +480 minutes). */
export function stamp12(now: Date = new Date(), offsetMinutes = 480): string {
  const t = wallTimeOf(now, offsetMinutes);
  return `${pad(t.year % 100)}${pad(t.month)}${pad(t.day)}${pad(t.hour)}${pad(t.minute)}${pad(t.second)}`;
}

/**
 * A trade number by the spec's rule (docs/protocol.md §3.1): pile (14) + gun (2) + yyMMddHHmmss (China
 * time) + a 4-digit counter. The counter is per process, so numbers issued in the same second differ.
 */
export function newTradeNo(pileNo: string, gunNo: number, now: Date = new Date(), offsetMinutes = 480): string {
  tradeCounter = (tradeCounter + 1) % 10000;
  return `${pileNo}${pad(gunNo % 100)}${stamp12(now, offsetMinutes)}${pad(tradeCounter, 4)}`;
}

/** A given trade number: 1–32 digits, left-padded to 32 (the reply carries all 32). */
export function normaliseTradeNo(v: unknown): string | null {
  const s = typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? String(v) : typeof v === 'string' ? v.trim() : null;
  if (s === null || !/^\d{1,32}$/.test(s)) return null;
  return s.padStart(32, '0');
}

// ---- time zones ------------------------------------------------------------------------------

export const DEFAULT_TZ = 'Asia/Shanghai';

/** Wall time of an instant in a zone (IANA name or fixed offset); throws RangeError for an unknown zone. */
export function zoneClock(tz: string): (d: Date) => WallTime {
  const z = tz.trim() || DEFAULT_TZ;
  if (/^(UTC|GMT|Z)$/i.test(z)) return (d) => wallTimeOf(d, 0);
  const m = /^(?:UTC|GMT)?\s*([+-])(\d{1,2})(?::?(\d{2}))?$/i.exec(z);
  if (m) {
    const minutes = (m[1] === '-' ? -1 : 1) * (Number(m[2]) * 60 + Number(m[3] ?? 0));
    if (Math.abs(minutes) > 14 * 60) throw new RangeError(`offset ${z} is beyond ±14:00`);
    return (d) => wallTimeOf(d, minutes);
  }
  const fmt = new Intl.DateTimeFormat('en-US', {
    timeZone: z,
    hourCycle: 'h23',
    year: 'numeric',
    month: 'numeric',
    day: 'numeric',
    hour: 'numeric',
    minute: 'numeric',
    second: 'numeric',
  });
  return (d) => {
    const parts: Record<string, number> = {};
    for (const p of fmt.formatToParts(d)) if (p.type !== 'literal') parts[p.type] = Number(p.value);
    return { year: parts.year, month: parts.month, day: parts.day, hour: parts.hour, minute: parts.minute, second: parts.second, ms: d.getUTCMilliseconds() };
  };
}

// ---- lanes: one request in flight per pile and frame type ----------------------------------------

interface Waiting {
  owner: string;
  start(): void;
  cancel(e: YkcError): void;
}
interface Lane {
  running: boolean;
  waiting: Waiting[];
}

/**
 * Commands for one gun whose answer names the gun (0x13, 0x35, 0x63: gun number; 0x33, 0xA3: the
 * trade number): they queue per pile, gun and frame type, so a start waiting up to 60 s for a late
 * plug on gun 2 never delays a start on gun 1. The frame type stays in the key, so a stop is never
 * queued behind a start's late-plug wait on the same gun. Other commands (0x42's answer has no gun,
 * and the pile-wide ones) queue per pile and frame type: replies the gateway could not tell apart
 * from a pile that does not echo sequence numbers must not be in flight together.
 */
const GUN_LANE_TYPES = new Set([0x12, 0x34, 0x36, 0x62, 0xa4]);

/** The lane an exchange with one pile queues in: `<pile>/gun<n>/0x34` or `<pile>/0x58`. */
export function laneKey(pileNo: string, exchange: Pick<Exchange, 'laneType' | 'ids'>): string {
  const type = `0x${exchange.laneType.toString(16).padStart(2, '0')}`;
  const gun = exchange.ids.gunNo;
  return GUN_LANE_TYPES.has(exchange.laneType) && typeof gun === 'number' ? `${pileNo}/gun${gun}/${type}` : `${pileNo}/${type}`;
}

/** Per gateway, so every node using one server shares the lanes of its piles. */
const lanes = new WeakMap<object, Map<string, Lane>>();

/** Runs fn when the lane is free; rejects with YKC_LIMIT when QUEUE_LIMIT requests already wait. */
export function inLane<T>(gw: object, key: string, owner: string, fn: () => Promise<T>, limit = QUEUE_LIMIT): Promise<T> {
  let map = lanes.get(gw);
  if (!map) lanes.set(gw, (map = new Map()));
  let lane = map.get(key);
  if (!lane) map.set(key, (lane = { running: false, waiting: [] }));
  const l = lane;
  const m = map;
  return new Promise<T>((resolve, reject) => {
    const start = () => {
      l.running = true;
      let p: Promise<T>;
      try {
        p = fn();
      } catch (e) {
        p = Promise.reject(e);
      }
      p.then(resolve, reject).finally(() => {
        l.running = false;
        const next = l.waiting.shift();
        if (next) next.start();
        else if (m.get(key) === l) m.delete(key);
      });
    };
    if (!l.running) start();
    else if (l.waiting.length >= limit) {
      reject(new YkcError('YKC_LIMIT', `${l.waiting.length} requests already wait for ${key} (at most ${limit} queue behind the one in flight)`, { lane: key, limit }));
    } else l.waiting.push({ owner, start, cancel: reject });
  });
}

/** Requests of one node still queued (not sent) are dropped with YKC_CLOSED, e.g. on redeploy. */
export function dropQueued(gw: object, owner: string): void {
  const map = lanes.get(gw);
  if (!map) return;
  for (const [key, lane] of map) {
    const keep: Waiting[] = [];
    for (const w of lane.waiting) {
      if (w.owner === owner) w.cancel(new YkcError('YKC_CLOSED', `node closed before ${key} was sent`, { lane: key }));
      else keep.push(w);
    }
    lane.waiting = keep;
  }
}

/** How many requests are queued or in flight for a lane (tests and diagnostics). */
export function laneDepth(gw: object, key: string): number {
  const lane = lanes.get(gw)?.get(key);
  return lane ? lane.waiting.length + (lane.running ? 1 : 0) : 0;
}

// ---- standard exchanges ----------------------------------------------------------------------

/** Encodes once to check every field: a bad body throws here and nothing is sent. */
export function checkFrame(type: number, body: Body, seq?: number): Buffer {
  try {
    return encodeFrame({ type, body, seq });
  } catch (e) {
    throw asFieldError(e);
  }
}

/** The body as the pile will read it (with enumeration names), for frames nothing answers. */
export function asDecoded(type: number, body: Body): Record<string, unknown> {
  return maskFrame(decodeFrame(checkFrame(type, body))).body;
}

/** Sends one frame and judges the pile's reply. */
export function requestExchange(opts: { type: number; body: Body; judge: Judge; ids?: Record<string, unknown>; timeoutMs?: number }): Exchange {
  const { type, body, judge } = opts;
  const schema = schemaForType(type);
  if (!schema) throw new YkcError('YKC_FIELD', `unknown frame type ${type}`);
  checkFrame(type, body);
  return {
    laneType: type,
    request: { type, name: schema.name },
    ids: opts.ids ?? {},
    async run(ctx) {
      const reply = await ctx.gw.request(ctx.pileNo, { type, body }, { timeoutMs: opts.timeoutMs ?? ctx.timeoutMs });
      if (!reply) return { accepted: true, payload: asDecoded(type, body), frame: null };
      return { ...judge(reply.body), payload: reply.body, frame: reply };
    },
  };
}

// ---- the runner ------------------------------------------------------------------------------

export interface RunnerOptions {
  /** Node type: the i18n namespace of status and error texts. */
  type: string;
  /** 3, or 4 for nodes with follow-up events. */
  outputs: number;
}

type Send = (msg: NodeMessage | Array<NodeMessage | null>) => void;
type Done = (err?: Error) => void;

const OUTPUT: Record<Outcome, number> = { accepted: 0, refused: 1, timeout: 2, offline: 2, error: 2 };

function outcomeOf(code: string): Outcome {
  if (code === 'YKC_TIMEOUT') return 'timeout';
  if (code === 'YKC_OFFLINE' || code === 'YKC_CLOSED') return 'offline';
  return 'error';
}

const clock = () => new Date().toTimeString().slice(0, 8);

export class CommandRunner {
  readonly describe: CodeDescriber;
  private closed = false;
  private busy = 0;

  constructor(
    readonly RED: NodeAPI,
    readonly node: Node,
    readonly config: CommandDef,
    readonly server: YkcServerNode | null,
    readonly opts: RunnerOptions,
  ) {
    this.describe = catalogueDescriber(RED, opts.type);
    // Registered for error routing (Catch nodes on this tab see the server's errors) but not for
    // its status fan-out, which would overwrite the last command result whenever a pile comes or goes.
    if (!server) {
      node.status({ fill: 'red', shape: 'ring', text: RED._(`${opts.type}.status.noServer`) });
      node.error(RED._(`${opts.type}.errors.noServer`));
    } else {
      server.register(node, { status: false });
    }
    node.on('close', (_removed: boolean, done: () => void) => {
      this.closed = true;
      const gw = server?.gateway;
      if (gw) dropQueued(gw, node.id);
      if (server) server.deregister(node, done);
      else done();
    });
  }

  get isClosed(): boolean {
    return this.closed;
  }

  private t(key: string, params: Record<string, unknown> = {}): string {
    return this.RED._(`${this.opts.type}.${key}`, params as Record<string, string>);
  }

  fieldError(key: string, params: Record<string, unknown> = {}, code = 'YKC_FIELD'): NodeError {
    return inputError(this.RED, this.opts.type, key, params, code);
  }

  /** Status with its machine-readable parts (outcome, pileNo, code) beside the text, for Status nodes. */
  status(fill: NodeStatus['fill'], shape: NodeStatus['shape'], key: string, params: Record<string, unknown> = {}, extra: Record<string, unknown> = {}): void {
    if (!this.closed) this.node.status({ fill, shape, text: this.t(`status.${key}`, params), ...extra } as NodeStatus);
  }

  private nodeError(e: unknown): NodeError {
    return toNodeError(e, e instanceof Error && LOCALISED.has(e) ? undefined : this.describe);
  }

  /** The running gateway, or YKC_OFFLINE when the server node is missing or could not listen. */
  gateway(): YkcServer {
    const gw = this.server?.gateway;
    if (!gw) throw this.server ? this.fieldError('serverDown', {}, 'YKC_OFFLINE') : this.fieldError('noServer', {}, 'YKC_OFFLINE');
    return gw;
  }

  timeoutMs(): number | undefined {
    const n = typeof this.config.timeout === 'number' ? this.config.timeout : Number(String(this.config.timeout ?? '').trim() || NaN);
    return Number.isFinite(n) && n > 0 ? Math.round(n * 1000) : undefined;
  }

  private configPile(msg: NodeMessage): unknown {
    const v = this.config.pile;
    if (!present(v)) return undefined;
    const type = this.config.pileType || 'str';
    if (type === 'str') return String(v).trim();
    return this.RED.util.evaluateNodeProperty(String(v), type, this.node, msg);
  }

  /** The raw target: payload.pileNo, then msg.ykc.pileNo, then the node's pile property. */
  rawPile(msg: NodeMessage): unknown {
    const p = payloadOf(msg).pileNo;
    if (present(p)) return p;
    const y = ykcOf(msg).pileNo;
    if (present(y)) return y;
    return this.configPile(msg);
  }

  checkPile(v: unknown): string {
    if (!present(v)) throw this.fieldError('noPile');
    const s = typeof v === 'number' && Number.isSafeInteger(v) ? String(v) : typeof v === 'string' ? v.trim() : null;
    if (s === null || !/^\d{14}$/.test(s)) throw this.fieldError('badPile', { pile: typeof v === 'string' ? v : JSON.stringify(v) });
    return s;
  }

  pile(msg: NodeMessage): string {
    return this.checkPile(this.rawPile(msg));
  }

  /** One pile, a list ("a,b" or an array) or "*" (every pile online now, on every instance of a cluster). */
  piles(msg: NodeMessage): { piles: string[]; multi: boolean } {
    const raw = this.rawPile(msg);
    // In a cluster (docs/cluster.md) "*" also reaches the piles held by the other instances.
    if (raw === '*') return { piles: this.gateway().onlinePileNumbers(), multi: true };
    if (Array.isArray(raw)) return { piles: [...new Set(raw.map((p) => this.checkPile(p)))], multi: true };
    if (typeof raw === 'string' && /[\s,;]/.test(raw.trim())) {
      return { piles: [...new Set(raw.split(/[\s,;]+/).filter(Boolean).map((p) => this.checkPile(p)))], multi: true };
    }
    return { piles: [this.checkPile(raw)], multi: false };
  }

  /** The gun: payload.gunNo, then msg.ykc.gunNo, then the node's gun property; 1–99. */
  gun(msg: NodeMessage): number {
    const p = payloadOf(msg).gunNo;
    const y = ykcOf(msg).gunNo;
    const v = present(p) ? p : present(y) ? y : this.config.gun;
    if (!present(v)) throw this.fieldError('noGun');
    const n = typeof v === 'string' && /^\s*\d+\s*$/.test(v) ? Number(v) : v;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > 99) throw this.fieldError('badGun', { gun: String(v) });
    return n;
  }

  /** msg.payload's fields over the configured ones (empty config values do not count). */
  fields(msg: NodeMessage, configured: Record<string, unknown>): Record<string, unknown> {
    return { ...definedOnly(configured), ...payloadOf(msg) };
  }

  /** The input handler: build the exchanges (nothing sent if that throws), run them, route the results. */
  async handle(msg: NodeMessageInFlow, send: Send, done: Done, build: (msg: NodeMessage) => Plans): Promise<void> {
    try {
      await this.handleInner(msg, send, done, build);
    } catch (e) {
      // A bug, never an expected outcome: still one done() and no unhandled rejection.
      done(this.nodeError(e));
    }
  }

  private async handleInner(msg: NodeMessageInFlow, send: Send, done: Done, build: (msg: NodeMessage) => Plans): Promise<void> {
    let plans: Plans;
    try {
      plans = build(msg);
    } catch (e) {
      this.fail(msg, send, done, e, null, {});
      return;
    }
    if (!plans.multi) {
      const [plan] = plans.plans;
      const r = await this.runPlan(msg, plan, send);
      if (this.closed) return done();
      return r.error ? done(r.error) : done();
    }
    if (plans.plans.length === 0) {
      this.fail(msg, send, done, this.fieldError('noPiles', {}, 'YKC_OFFLINE'), null, {});
      return;
    }
    const results = await Promise.all(plans.plans.map((plan) => this.runPlan(this.RED.util.cloneMessage(msg), plan, send, true)));
    if (this.closed) return done();
    const ok = results.filter((r) => r.outcome === 'accepted').length;
    if (ok === results.length) this.status('green', 'dot', 'acceptedMany', { ok, count: results.length, time: clock() }, { outcome: 'accepted' });
    else this.status('red', 'dot', 'partial', { ok, count: results.length }, { outcome: 'partial' });
    done();
  }

  /** Runs one exchange in its lane and sends the result; per-pile errors go to node.error when `own`. */
  private async runPlan(msg: NodeMessage, plan: Plan, send: Send, ownErrors = false): Promise<{ outcome: Outcome; error?: NodeError }> {
    const { exchange, pileNo } = plan;
    const base = { ...(pileNo ? { pileNo } : {}), ...exchange.ids };
    let gw: YkcServer;
    try {
      gw = this.gateway();
    } catch (e) {
      return this.failure(msg, send, e, base, exchange, ownErrors);
    }
    this.busy++;
    this.status('blue', 'dot', 'waiting', { count: this.busy }, { outcome: 'waiting', ...(pileNo ? { pileNo } : {}) });
    const started = Date.now();
    const ctx: RunContext = {
      gw,
      pileNo: pileNo ?? '',
      timeoutMs: this.timeoutMs(),
      progress: (event, payload, status) => this.followUp(msg, pileNo, exchange, { event, payload, status }),
    };
    try {
      const run = () => exchange.run(ctx);
      const answer = pileNo ? await inLane(gw, laneKey(pileNo, exchange), this.node.id, run) : await run();
      this.busy--;
      if (this.closed) return { outcome: answer.accepted ? 'accepted' : 'refused' };
      const outcome: Outcome = answer.accepted ? 'accepted' : 'refused';
      const f = answer.frame;
      const ykc: Record<string, unknown> = {
        ...base,
        ...(f ? { type: f.type, name: f.name, seq: f.seq } : {}),
        ...(f && typeof f.body.gunNo === 'number' ? { gunNo: f.body.gunNo } : {}),
        ...(answer.ids ?? {}),
        version: pileNo ? gw.versionOf(pileNo) : null,
        receivedAt: Date.now(),
        request: exchange.request,
        outcome,
        durationMs: Date.now() - started,
      };
      let error: NodeError | undefined;
      let reasonText = '';
      if (!answer.accepted) {
        const r = answer.reason ?? { code: null, name: 'refused' };
        reasonText = r.table ? this.RED._(`${this.opts.type}.reasons.${r.table}.${String(r.code)}`, { defaultValue: r.name } as unknown as Record<string, string>) : r.name;
        ykc.reason = r.code;
        ykc.reasonName = r.name;
        if (this.config.refusalError !== false) {
          error = this.fieldError('refused', { pile: pileNo ?? '', frame: exchange.request.name, reason: reasonText, code: String(r.code) }, 'YKC_REJECTED');
          error.details = { pileNo, frame: exchange.request.name, reason: r.code, reasonName: r.name };
        }
      }
      msg.payload = answer.payload;
      (msg as { ykc?: unknown }).ykc = ykc;
      if (answer.accepted) this.status('green', 'dot', 'accepted', { time: clock() }, { outcome, pileNo });
      else this.status('red', 'dot', 'refused', { reason: reasonText }, { outcome, pileNo, code: answer.reason?.code });
      send(this.at(OUTPUT[outcome], msg));
      if (answer.after) {
        answer.after.then(
          (fu) => {
            if (fu) this.followUp(msg, pileNo, exchange, fu);
          },
          () => {},
        );
      }
      if (error && ownErrors) this.node.error(error, msg);
      return { outcome, error };
    } catch (e) {
      this.busy--;
      return this.failure(msg, send, e, base, exchange, ownErrors);
    }
  }

  private failure(msg: NodeMessage, send: Send, e: unknown, base: Record<string, unknown>, exchange: Exchange, ownErrors: boolean): { outcome: Outcome; error?: NodeError } {
    const err = this.nodeError(e);
    const outcome = outcomeOf(err.code);
    if (this.closed) return { outcome };
    this.failStatus(err.code, outcome, typeof base.pileNo === 'string' ? base.pileNo : undefined);
    (msg as { ykc?: unknown }).ykc = { ...base, request: exchange.request, outcome, error: { code: err.code, message: err.message } };
    send(this.at(2, msg));
    if (ownErrors) this.node.error(err, msg);
    return { outcome, error: err };
  }

  private failStatus(code: string, outcome: Outcome, pileNo?: string): void {
    const extra = { outcome, code, ...(pileNo ? { pileNo } : {}) };
    if (outcome === 'timeout') this.status('red', 'ring', 'timeout', {}, extra);
    else if (outcome === 'offline') this.status('grey', 'ring', 'offline', {}, extra);
    else if (code === 'YKC_FIELD') this.status('red', 'ring', 'badInput', {}, extra);
    else this.status('red', 'ring', 'error', { code }, extra);
  }

  /** Bad input before anything was sent: output 3 and done(err). */
  private fail(msg: NodeMessage, send: Send, done: Done, e: unknown, pileNo: string | null, ids: Record<string, unknown>): void {
    const err = this.nodeError(e);
    const outcome = outcomeOf(err.code);
    this.failStatus(err.code, outcome, pileNo ?? undefined);
    (msg as { ykc?: unknown }).ykc = { ...(pileNo ? { pileNo } : {}), ...ids, outcome, error: { code: err.code, message: err.message } };
    send(this.at(2, msg));
    done(err);
  }

  /** A follow-up event on the 4th output: a copy of the msg with topic ykc/<pile>/<event>. */
  private followUp(msg: NodeMessage, pileNo: string | null, exchange: Exchange, fu: FollowUp): void {
    if (this.closed || this.opts.outputs < 4) return;
    const m = this.RED.util.cloneMessage(msg);
    m.topic = `ykc/${pileNo ?? ''}/${fu.event}`;
    m.payload = fu.payload;
    const prev = ykcOf(msg);
    (m as { ykc?: unknown }).ykc = {
      ...prev,
      ...(pileNo ? { pileNo } : {}),
      ...exchange.ids,
      event: fu.event,
      at: Date.now(),
      ...(fu.error ? { error: { code: fu.error.code, message: fu.error.message } } : {}),
    };
    if (fu.status) this.node.status(fu.status);
    this.node.send(this.at(3, m));
    if (fu.error) this.node.error(fu.error, m);
  }

  private at(index: number, msg: NodeMessage): Array<NodeMessage | null> {
    const out: Array<NodeMessage | null> = new Array(this.opts.outputs).fill(null);
    out[index] = msg;
    return out;
  }
}

/** The config node a command node uses, typed. */
export function serverOf(RED: NodeAPI, config: CommandDef): YkcServerNode | null {
  return (RED.nodes.getNode(config.server) as YkcServerNode | null) ?? null;
}
