/**
 * Whole frames: 0x68 | L | seq(2) | encryption flag | type | body | CRC(2). docs/protocol.md §2.
 * decodeFrame and encodeFrame are exact inverses for every well-formed frame (docs/architecture.md §2).
 */
import { checkFrameCrc, crc16Modbus, CrcOrder } from './crc16';
import { YkcError, typeHex } from './errors';
import { Body, isWholeHex } from './fields';
import { schemaForName, schemaForType } from './frames';
import { decodeBodyWith, encodeBodyWith, encodedBodyLength, MAX_BODY } from './schema';

export const START_BYTE = 0x68;
/** Header (start, length, seq, flag, type) + CRC. */
export const FRAME_OVERHEAD = 8;

export interface DecodedFrame {
  type: number;
  name: string;
  /** The two sequence bytes read little-endian; re-encoding writes them back unchanged. */
  seq: number;
  encrypted: boolean;
  /** Present only when the flag byte is neither 0 nor 1, so it still round-trips. */
  encryptFlag?: number;
  crcOrder: CrcOrder;
  /** False only when decoded with verifyCrc: false and the CRC did not match. */
  crcValid?: boolean;
  body: Body;
}

export interface FrameInput {
  type?: number | string;
  name?: string;
  seq?: number;
  encrypted?: boolean;
  encryptFlag?: number;
  crcOrder?: CrcOrder;
  body?: Body;
}

export interface DecodeOptions {
  /** Default true. False decodes frames whose CRC is wrong (spec examples) and marks crcValid: false. */
  verifyCrc?: boolean;
  /** Refuse bodies longer than the layout instead of keeping the surplus as `extra`. */
  strict?: boolean;
}

/** Accepts hex with or without spaces, "0x" prefixes or colons. */
export function parseHex(text: string): Buffer {
  const clean = text.replace(/0x/gi, '').replace(/[\s:,-]/g, '');
  if (!isWholeHex(clean)) {
    throw new YkcError('YKC_INPUT', `not a hex string of whole bytes: "${text.length > 60 ? text.slice(0, 60) + '…' : text}"`, { input: text.slice(0, 200) });
  }
  return Buffer.from(clean, 'hex');
}

export function toBuffer(input: Buffer | Uint8Array | string): Buffer {
  if (typeof input === 'string') return parseHex(input);
  if (Buffer.isBuffer(input)) return input;
  if (input instanceof Uint8Array) return Buffer.from(input.buffer, input.byteOffset, input.byteLength);
  throw new YkcError('YKC_INPUT', `expected a Buffer or a hex string, got ${typeof input}`);
}

/** Decodes exactly one frame. Throws YkcError (YKC_START, YKC_LENGTH, YKC_CRC, YKC_FIELD). */
export function decodeFrame(input: Buffer | Uint8Array | string, opts: DecodeOptions = {}): DecodedFrame {
  const b = toBuffer(input);
  return decodeFrameAt(b, 0, b.length, opts);
}

/** Decodes the frame at b[off, off+len) without copying; the splitter hands frames over this way. */
export function decodeFrameAt(b: Buffer, off: number, len: number, opts: DecodeOptions = {}): DecodedFrame {
  if (len < FRAME_OVERHEAD) {
    throw new YkcError('YKC_LENGTH', `a frame has at least ${FRAME_OVERHEAD} bytes, got ${len}`, { length: len });
  }
  if (b[off] !== START_BYTE) {
    throw new YkcError('YKC_START', `a frame starts with 0x68, got 0x${b[off].toString(16).padStart(2, '0').toUpperCase()}`, { startByte: b[off] });
  }
  const L = b[off + 1];
  if (L + 4 !== len) {
    throw new YkcError('YKC_LENGTH', `length byte ${L} means a frame of ${L + 4} bytes, got ${len}`, { lengthByte: L, length: len });
  }
  if (L < 4) throw new YkcError('YKC_LENGTH', `length byte ${L} is below the minimum 4`, { lengthByte: L });
  const type = b[off + 5];
  let crcOrder = checkFrameCrc(b, off, len);
  let crcValid: boolean | undefined;
  if (crcOrder === null) {
    if (opts.verifyCrc !== false) {
      const crc = crc16Modbus(b, off + 2, off + len - 2);
      const want = ((crc & 0xff) << 8 | crc >>> 8).toString(16).padStart(4, '0').toUpperCase();
      const got = b.subarray(off + len - 2, off + len).toString('hex').toUpperCase();
      throw new YkcError('YKC_CRC', `frame ${typeHex(type)}: CRC bytes ${got} do not match CRC-16/MODBUS ${want} (low byte first)`, {
        type,
        crcExpected: want,
        crcReceived: got,
      });
    }
    crcOrder = 'lo-first';
    crcValid = false;
  }
  const flag = b[off + 4];
  const seq = b[off + 2] | (b[off + 3] << 8);
  const bodyStart = off + 6;
  const bodyLen = L - 4;
  const schema = schemaForType(type);
  let name: string;
  let body: Body;
  if (!schema || flag === 1) {
    // Unknown types and 3DES bodies (no key exchange exists in 1.5/1.6) stay raw, never fail.
    name = schema ? schema.name : 'unknown';
    body = { raw: b.subarray(bodyStart, bodyStart + bodyLen).toString('hex').toUpperCase() };
  } else {
    name = schema.name;
    body = decodeBodyWith(schema, b, bodyStart, bodyLen, opts.strict);
  }
  const out: DecodedFrame = { type, name, seq, encrypted: flag === 1, crcOrder, body };
  if (flag > 1) out.encryptFlag = flag;
  if (crcValid === false) out.crcValid = false;
  return out;
}

function resolveType(f: FrameInput): number {
  const t = f.type;
  if (typeof t === 'number') {
    if (Number.isInteger(t) && t >= 0 && t <= 255) return t;
  } else if (typeof t === 'string' && t !== '') {
    const n = /^(0x)?[0-9a-f]{1,2}$/i.test(t) && /^0x/i.test(t) ? parseInt(t, 16) : /^\d+$/.test(t) ? Number(t) : NaN;
    if (n >= 0 && n <= 255) return n;
    const s = schemaForName(t);
    if (s) return s.type;
  } else if (t === undefined && typeof f.name === 'string') {
    const s = schemaForName(f.name);
    if (s) return s.type;
    throw new YkcError('YKC_UNKNOWN_TYPE', `unknown frame name "${f.name}"`, { name: f.name });
  }
  throw new YkcError('YKC_UNKNOWN_TYPE', `frame type must be 0–255, "0x.." or a frame name, got ${JSON.stringify(t)}`, { type: t });
}

/** Encodes a frame object (the decoded-frame shape). Throws YkcError with code YKC_FIELD / YKC_LENGTH. */
export function encodeFrame(f: FrameInput): Buffer {
  if (typeof f !== 'object' || f === null) throw new YkcError('YKC_INPUT', 'a frame must be an object { type | name, seq, body }');
  const type = resolveType(f);
  const schema = schemaForType(type);
  const body = (f.body ?? {}) as Body;
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new YkcError('YKC_INPUT', 'frame body must be an object');
  const flag = f.encryptFlag ?? (f.encrypted ? 1 : 0);
  if (!Number.isInteger(flag) || flag < 0 || flag > 255) throw new YkcError('YKC_FIELD', `encryption flag must be 0–255, got ${flag}`, { field: 'encryptFlag' });
  const seq = f.seq ?? 0;
  if (!Number.isInteger(seq) || seq < 0 || seq > 0xffff) {
    throw new YkcError('YKC_FIELD', `seq must be an integer 0–65535, got ${JSON.stringify(seq)}`, { field: 'seq', value: seq });
  }
  const raw = !schema || flag === 1;
  let rawBody: Buffer | undefined;
  let bodyLen: number;
  if (raw) {
    if (typeof body.raw !== 'string') {
      throw new YkcError(schema ? 'YKC_FIELD' : 'YKC_UNKNOWN_TYPE', schema ? `${typeHex(type)}: an encrypted body must be given as body.raw (hex)` : `unknown frame type ${typeHex(type)}: give the body as body.raw (hex)`, { type });
    }
    rawBody = parseHex(body.raw);
    bodyLen = rawBody.length;
  } else {
    bodyLen = encodedBodyLength(schema, body);
  }
  if (bodyLen > MAX_BODY) {
    throw new YkcError('YKC_LENGTH', `${typeHex(type)}: body of ${bodyLen} bytes exceeds the ${MAX_BODY} a frame can carry`, { type, bodyLength: bodyLen });
  }
  const buf = Buffer.allocUnsafe(bodyLen + FRAME_OVERHEAD);
  buf[0] = START_BYTE;
  buf[1] = bodyLen + 4;
  buf[2] = seq & 0xff;
  buf[3] = seq >>> 8;
  buf[4] = flag;
  buf[5] = type;
  if (rawBody) rawBody.copy(buf, 6);
  else encodeBodyWith(schema!, body, buf, 6);
  const crc = crc16Modbus(buf, 2, 6 + bodyLen);
  const hiFirst = f.crcOrder === 'hi-first';
  buf[6 + bodyLen] = hiFirst ? crc >>> 8 : crc & 0xff;
  buf[7 + bodyLen] = hiFirst ? crc & 0xff : crc >>> 8;
  return buf;
}
