/**
 * ykc-decode: bytes → decoded YKC frame (docs/architecture.md §2).
 *
 * "single" mode: one message holds exactly one frame.
 * "stream" mode: messages are raw TCP chunks (core `tcp in`, stream + buffer); frames are reassembled
 * per connection (msg._session.id) with the protocol's FrameSplitter and each whole frame goes out as
 * its own message. Framing trouble is reported (rate-limited) but never costs a good frame.
 */
import type { Node, NodeAPI, NodeDef, NodeMessage, NodeMessageInFlow, NodeStatus } from 'node-red';
import { decodeFrame, decodeFrameAt, DecodedFrame, FrameSplitter, YkcError, parseHex } from '../src/protocol';
import { catalogueDescriber, ErrorThrottle, NodeError, toNodeError } from './shared/errors';

interface YkcDecodeDef extends NodeDef {
  /** Message property holding the bytes; the result is written back to it. Default "payload". */
  property?: string;
  mode?: 'single' | 'stream';
  /** Decode frames whose CRC is wrong (single mode), marked crcValid: false. */
  acceptBadCrc?: boolean;
  /** Refuse bodies longer than the frame's layout instead of keeping the surplus. */
  strict?: boolean;
  /** "frame" (the whole decoded frame, default) or "body". */
  output?: 'frame' | 'body';
  /** Add the frame's bytes as hex to msg.ykc.raw. */
  raw?: boolean;
}

/** Optional settings.js keys (prefixed by the node type, as Node-RED asks). */
interface DecodeSettings {
  ykcDecodeMaxSessions?: unknown;
  ykcDecodeIdleTimeout?: unknown;
}

const DEFAULT_MAX_SESSIONS = 1000;
const DEFAULT_IDLE_TIMEOUT_MS = 10 * 60 * 1000;

interface TcpSession {
  type?: string;
  id?: string | number;
  [key: string]: unknown;
}

type StreamEvent = { frame: DecodedFrame; bytes: Buffer } | { error: unknown };

/** One connection's reassembly state. */
interface SessionStream {
  key: string;
  session: TcpSession | undefined;
  splitter: FrameSplitter;
  events: StreamEvent[];
  lastSeen: number;
  /** Protocol version learnt from the connection's login ("1.5", "1.6"), as the gateway reports it. */
  version: string | null;
}

interface StatusWithDetail extends NodeStatus {
  frame?: string;
  code?: string;
}

interface YkcDecodeNode extends Node {
  /** Connections with reassembly state (diagnostics and tests). */
  sessionCount(): number;
}

/** Buffer, Uint8Array, array of byte values, {type:"Buffer",data:[…]} or hex text → Buffer. */
function bytesOf(value: unknown): Buffer {
  if (Buffer.isBuffer(value)) return value;
  if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  if (typeof value === 'string') return parseHex(value);
  let arr: unknown = value;
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    const o = value as { type?: unknown; data?: unknown };
    if (o.type === 'Buffer' && Array.isArray(o.data)) arr = o.data;
  }
  if (Array.isArray(arr)) {
    for (let i = 0; i < arr.length; i++) {
      const v: unknown = arr[i];
      if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 255) {
        throw new YkcError('YKC_INPUT', `byte ${i} of the array is ${JSON.stringify(v)}, not an integer 0–255`, { index: i, value: v });
      }
    }
    return Buffer.from(arr as number[]);
  }
  const kind = value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value;
  throw new YkcError('YKC_INPUT', `expected a Buffer, an array of bytes or a hex string, got ${kind}`, { got: kind });
}

/** The version a login announces (its protocolVersion byte, 0x0F → "1.5"), or null for other frames. */
function loginVersion(frame: DecodedFrame): string | null {
  const v = frame.type === 0x01 ? frame.body.protocolVersion : undefined;
  return typeof v === 'number' ? v.toFixed(1) : null;
}

function positiveInt(v: unknown, fallback: number): number {
  const n = typeof v === 'string' ? Number(v) : v;
  return typeof n === 'number' && Number.isInteger(n) && n > 0 ? n : fallback;
}

export = function (RED: NodeAPI): void {
  function YkcDecodeNode(this: YkcDecodeNode, config: YkcDecodeDef): void {
    RED.nodes.createNode(this, config);
    const node = this;
    const property = config.property || 'payload';
    const stream = config.mode === 'stream';
    const decodeOpts = { verifyCrc: !config.acceptBadCrc, strict: !!config.strict };
    const bodyOnly = config.output === 'body';
    const withRaw = !!config.raw;
    const settings = RED.settings as unknown as DecodeSettings;
    const maxSessions = positiveInt(settings.ykcDecodeMaxSessions, DEFAULT_MAX_SESSIONS);
    const idleTimeout = positiveInt(settings.ykcDecodeIdleTimeout, DEFAULT_IDLE_TIMEOUT_MS);
    const describe = catalogueDescriber(RED, 'ykc-decode');
    const throttle = new ErrorThrottle();
    /** Insertion order is recency order: the first entry is the least recently used. */
    const streams = new Map<string, SessionStream>();
    let lastStatus = '';

    node.sessionCount = () => streams.size;

    function setStatus(s: StatusWithDetail): void {
      const key = `${s.fill}|${s.shape}|${s.text}|${s.frame ?? ''}|${s.code ?? ''}`;
      if (key === lastStatus) return;
      lastStatus = key;
      node.status(s);
    }

    function okStatus(name: string): void {
      const text = stream
        ? RED._('ykc-decode.status.stream', { name, count: streams.size })
        : RED._('ykc-decode.status.frame', { name });
      setStatus({ fill: 'green', shape: 'dot', text, frame: name });
    }

    function errorStatus(code: string): void {
      setStatus({ fill: 'red', shape: 'ring', text: RED._('ykc-decode.status.error', { code }), code });
    }

    /** Writes the decoded frame into msg and sets msg.topic / msg.ykc (docs/architecture.md §2). */
    function annotate(msg: NodeMessage, frame: DecodedFrame, bytes: Buffer, receivedAt: number, version: string | null): void {
      const body = frame.body as Record<string, unknown>;
      const ykc: Record<string, unknown> = {};
      if (typeof body.pileNo === 'string') {
        ykc.pileNo = body.pileNo;
        msg.topic = `ykc/${body.pileNo}/${frame.name}`;
      }
      if (typeof body.gunNo === 'number') ykc.gunNo = body.gunNo;
      if (typeof body.tradeNo === 'string') ykc.tradeNo = body.tradeNo;
      ykc.type = frame.type;
      ykc.name = frame.name;
      ykc.seq = frame.seq;
      ykc.encrypted = frame.encrypted;
      ykc.crcOrder = frame.crcOrder;
      if (frame.crcValid === false) ykc.crcValid = false;
      ykc.version = version;
      ykc.receivedAt = receivedAt;
      if (withRaw) ykc.raw = bytes.toString('hex').toUpperCase();
      msg.ykc = ykc;
      RED.util.setMessageProperty(msg, property, bodyOnly ? frame.body : frame, true);
    }

    /** Reports an error outside done(): to Catch nodes with the msg, at most ErrorThrottle's rate. */
    function report(err: NodeError, msg: NodeMessage): void {
      errorStatus(err.code);
      const held = throttle.admit();
      if (held === null) return;
      if (held > 0) err.message += ` (${held} earlier error${held > 1 ? 's' : ''} not reported)`;
      node.error(err, msg);
    }

    function evict(s: SessionStream): void {
      streams.delete(s.key);
      const pending = s.splitter.buffered;
      if (pending > 0) {
        const err = new YkcError('YKC_LIMIT', `dropped ${pending} buffered byte${pending > 1 ? 's' : ''} of idle or least-recently-used connection ${s.key}`, {
          session: s.key,
          bytes: pending,
        });
        report(toNodeError(err, describe), { _session: s.session, payload: Buffer.alloc(0) });
      }
    }

    function streamFor(msg: NodeMessage, now: number): SessionStream {
      const session = msg._session as TcpSession | undefined;
      const key = session && session.id !== undefined && session.id !== null ? String(session.id) : '';
      let s = streams.get(key);
      if (s) {
        streams.delete(key); // re-inserted below as the most recent
      } else {
        const events: StreamEvent[] = [];
        s = {
          key,
          session,
          events,
          lastSeen: now,
          version: null,
          splitter: new FrameSplitter(
            (bytes) => {
              try {
                events.push({ frame: decodeFrameAt(bytes, 0, bytes.length, decodeOpts), bytes });
              } catch (e) {
                events.push({ error: e });
              }
            },
            (e) => events.push({ error: e }),
          ),
        };
      }
      s.lastSeen = now;
      streams.set(key, s);
      for (const old of streams.values()) {
        if (streams.size <= maxSessions && now - old.lastSeen < idleTimeout) break;
        if (old === s) break;
        evict(old);
      }
      return s;
    }

    /** A Status node watching `tcp in` (event "disconnect") or msg.reset ends a connection's stream. */
    function endedSession(msg: NodeMessage): string | undefined {
      const status = msg.status as { event?: unknown; _session?: TcpSession } | undefined;
      if (status && typeof status === 'object' && status.event === 'disconnect' && status._session?.id != null) {
        return String(status._session.id);
      }
      const session = msg._session as TcpSession | undefined;
      if (msg.reset === true && session?.id != null) return String(session.id);
      return undefined;
    }

    function onStreamInput(msg: NodeMessageInFlow, send: (m: NodeMessage | Array<NodeMessage | NodeMessage[] | null>) => void): void {
      const ended = endedSession(msg);
      if (ended !== undefined) {
        streams.delete(ended);
        return;
      }
      const value: unknown = RED.util.getMessageProperty(msg, property);
      if (value === undefined && msg.status !== undefined) return; // a Status node's other events
      const bytes = bytesOf(value);
      const now = Date.now();
      const s = streamFor(msg, now);
      s.events.length = 0;
      s.splitter.push(bytes);
      if (s.splitter.overLimit) s.splitter.reset(); // reported once; count afresh from here
      const events = s.events.splice(0);
      const frames: Array<{ frame: DecodedFrame; bytes: Buffer }> = [];
      // Errors first, while msg still holds the chunk that caused them (node.error clones it).
      for (const ev of events) {
        if ('error' in ev) report(toNodeError(ev.error, describe), msg);
        else frames.push(ev);
      }
      if (frames.length === 0) return;
      const out: NodeMessage[] = [];
      if (frames.length > 1) {
        RED.util.setMessageProperty(msg, property, undefined, false);
        for (let i = 0; i < frames.length - 1; i++) out.push(RED.util.cloneMessage(msg));
      }
      out.push(msg);
      for (let i = 0; i < frames.length; i++) {
        s.version = loginVersion(frames[i].frame) ?? s.version;
        annotate(out[i], frames[i].frame, frames[i].bytes, now, s.version);
      }
      okStatus(frames[frames.length - 1].frame.name);
      send([out]);
    }

    node.on('input', (msg, send, done) => {
      try {
        if (stream) {
          onStreamInput(msg, send);
          done();
          return;
        }
        const bytes = bytesOf(RED.util.getMessageProperty(msg, property));
        const frame = decodeFrame(bytes, decodeOpts);
        annotate(msg, frame, bytes, Date.now(), loginVersion(frame));
        okStatus(frame.name);
        send(msg);
        done();
      } catch (e) {
        const err = toNodeError(e, describe);
        errorStatus(err.code);
        done(err);
      }
    });

    node.on('close', (removed: boolean, done: () => void) => {
      streams.clear();
      done();
    });
  }

  RED.nodes.registerType('ykc-decode', YkcDecodeNode);
};
