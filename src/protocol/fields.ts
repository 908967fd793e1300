/**
 * Field codecs. Each constructor returns a Field: a fixed-width slice of a frame body that decodes
 * into one or more properties of the body object and encodes back from them. Every codec is
 * lossless for any byte pattern (odd BCD nibbles, bytes after an ASCII NUL, unusual time bits),
 * so `encode(decode(bytes))` always gives the same bytes.
 */
import { YkcError } from './errors';

export type Body = Record<string, unknown>;

/** How a field is shown in the generated frame tables of the README. */
export interface FieldDoc {
  enc: string;
  unit?: string;
  values?: string;
}

export interface Field {
  name: string;
  width: number;
  doc: FieldDoc;
  decode(b: Buffer, o: number, out: Body): void;
  /**
   * Optional: properties present only sometimes (a time's weekday flag), written after every
   * field's decode(), as the compiled decoder writes them in its `post` statements.
   */
  decodeAfter?(b: Buffer, o: number, out: Body): void;
  /** Writes the field; `ctx` names the frame for error messages. */
  encode(b: Buffer, o: number, body: Body, ctx: string): void;
  /**
   * Optional: decode() as JavaScript source, so a whole layout compiles into one function that
   * builds the body as a single object literal (schema.ts). Must give exactly what decode() gives.
   */
  gen?(b: string, at: OffsetExpr, scope: GenScope): DecodeGen;
  /** A secret (the OTA FTP password): masked wherever the gateway reports frames (secrets.ts). */
  secret?: boolean;
  /**
   * Body keys the field may also give or read besides those its decode() of all-zero and all-0xFF
   * bytes shows (a time's weekday flag): the encoder refuses keys no field knows (schema.ts).
   */
  keys?: readonly string[];
}

// ---- code generation for the compiled decoders ------------------------------------------------

/** Source text of the offset of the field's byte k (e.g. "s+27"). */
export type OffsetExpr = (k: number) => string;

export interface GenScope {
  /** Makes a value (a table, a helper) reachable from the generated code; returns its identifier. */
  ref(value: unknown): string;
  /** A fresh local variable name. */
  local(): string;
}

export interface DecodeGen {
  /** Statements run before the body object is built (they may declare locals). */
  pre?: string;
  /** Properties of the body's object literal, in order: [key, expression]. */
  props: Array<[string, string]>;
  /** Statements run after it is built; `out` is the body (for properties present only sometimes). */
  post?: string;
}

/** Source of an unsigned little-endian read of w bytes, exact for every width up to 6. */
export function uintSource(b: string, at: OffsetExpr, w: number, scope: GenScope): string {
  const x = (k: number): string => `${b}[${at(k)}]`;
  switch (w) {
    case 1:
      return x(0);
    case 2:
      return `(${x(0)}|${x(1)}<<8)`;
    case 3:
      return `(${x(0)}|${x(1)}<<8|${x(2)}<<16)`;
    case 4:
      return `((${x(0)}|${x(1)}<<8|${x(2)}<<16)+${x(3)}*16777216)`;
    case 5:
      return `((${x(0)}|${x(1)}<<8|${x(2)}<<16)+(${x(3)}+${x(4)}*256)*16777216)`;
    default:
      return `${scope.ref(readUintLE)}(${b},${at(0)},${w})`;
  }
}

export function fieldError(ctx: string, field: string, value: unknown, why: string): YkcError {
  let shown: string;
  try {
    shown = JSON.stringify(value) ?? String(value);
  } catch {
    shown = String(value);
  }
  return new YkcError('YKC_FIELD', `${ctx}: field "${field}" ${why} (got ${shown})`, { frame: ctx, field, value });
}

// ---- hex and BCD ---------------------------------------------------------------------------

const HEX2: string[] = [];
for (let i = 0; i < 256; i++) HEX2.push(i.toString(16).toUpperCase().padStart(2, '0'));
const HEX_HI = new Uint8Array(256);
const HEX_LO = new Uint8Array(256);
for (let i = 0; i < 256; i++) {
  HEX_HI[i] = HEX2[i].charCodeAt(0);
  HEX_LO[i] = HEX2[i].charCodeAt(1);
}
/** Scratch space for building hex text: fields are at most 255 bytes. */
const HEX_SCRATCH = Buffer.alloc(512);

/** Upper-case hex of b[o, o+w): characters written once into scratch, then one string made from them. */
export function hexSlice(b: Buffer, o: number, w: number): string {
  if (w <= 2) return w === 1 ? HEX2[b[o]] : HEX2[b[o]] + HEX2[b[o + 1]];
  let k = 0;
  for (let i = o, e = o + w; i < e; i++) {
    const x = b[i];
    HEX_SCRATCH[k++] = HEX_HI[x];
    HEX_SCRATCH[k++] = HEX_LO[x];
  }
  return HEX_SCRATCH.toString('latin1', 0, k);
}

/** BCD bytes as a number when every nibble is a decimal digit, else as hex text (still lossless). */
function bcdNumAt(b: Buffer, o: number, w: number): number | string {
  const s = hexSlice(b, o, w);
  return /^[0-9]+$/.test(s) ? Number(s) : s;
}

/**
 * Source of the upper-case hex text of w bytes: one String.fromCharCode call with every character
 * code inline, the fastest way V8 has to make a short string from bytes (a few times faster than
 * a native toString call or concatenation).
 */
export function hexSource(b: string, at: OffsetExpr, w: number, scope: GenScope): string {
  if (w > 64) return `${scope.ref(hexSlice)}(${b},${at(0)},${w})`;
  const hi = scope.ref(HEX_HI);
  const lo = scope.ref(HEX_LO);
  const codes: string[] = [];
  for (let k = 0; k < w; k++) codes.push(`${hi}[${b}[${at(k)}]]`, `${lo}[${b}[${at(k)}]]`);
  return `String.fromCharCode(${codes.join(',')})`;
}

function allZero(b: Buffer, o: number, w: number): boolean {
  for (let i = o, e = o + w; i < e; i++) if (b[i] !== 0) return false;
  return true;
}

const HEX_RE = /^[0-9A-Fa-f]*$/;

/** Writes a hex-digit string right-aligned into w bytes, left-padding with zeros. */
function writeHexDigits(b: Buffer, o: number, w: number, digits: string, ctx: string, name: string, raw: unknown, kind: string): void {
  if (digits.length > w * 2) throw fieldError(ctx, name, raw, `has more than ${w * 2} ${kind}`);
  if (!HEX_RE.test(digits)) throw fieldError(ctx, name, raw, `must contain only ${kind}`);
  const pad = w * 2 - digits.length; // missing leading digits are zeros
  for (let i = 0; i < w; i++) {
    const k = 2 * i - pad;
    b[o + i] = (k >= 0 ? nibble(digits.charCodeAt(k)) << 4 : 0) | (k + 1 >= 0 ? nibble(digits.charCodeAt(k + 1)) : 0);
  }
}

/** Value of one hex digit's character code ('0'–'9', 'A'–'F', 'a'–'f'; already validated). */
function nibble(c: number): number {
  return c <= 57 ? c - 48 : (c | 0x20) - 87;
}

/** Packed BCD, most significant digit first, as a digit string of exactly 2·width characters. */
export function bcd(name: string, width: number, doc: Partial<FieldDoc> = {}, opts: { required?: boolean; exact?: boolean } = {}): Field {
  return {
    name,
    width,
    doc: { enc: `BCD ${width}`, ...doc },
    decode(b, o, out) {
      out[name] = hexSlice(b, o, width);
    },
    gen(b, at, scope) {
      return { props: [[name, hexSource(b, at, width, scope)]] };
    },
    encode(b, o, body, ctx) {
      const v = body[name];
      if (v === undefined || v === null) {
        // A missing pile number would address pile 00000000000000: refuse rather than guess.
        if (opts.required) throw fieldError(ctx, name, v, 'is required');
        b.fill(0, o, o + width);
        return;
      }
      let digits: string;
      if (typeof v === 'string') digits = v;
      else if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) digits = String(v);
      else if (typeof v === 'bigint' && v >= 0n) digits = v.toString();
      else throw fieldError(ctx, name, v, 'must be a string of decimal digits');
      if (!/^[0-9]*$/.test(digits) && !(HEX_RE.test(digits) && digits.length === width * 2)) {
        throw fieldError(ctx, name, v, 'must contain only decimal digits');
      }
      // An identifier padded with zeros would name another pile: all digits or nothing.
      if (opts.exact && digits.length < width * 2) throw fieldError(ctx, name, v, `must have exactly ${width * 2} digits`);
      writeHexDigits(b, o, width, digits, ctx, name, v, 'digits');
    },
  };
}

/** One or more BCD bytes read as a number (gun numbers: byte 0x12 is gun 12). */
export function bcdNum(name: string, width = 1, doc: Partial<FieldDoc> = {}): Field {
  const max = 10 ** (width * 2) - 1;
  return {
    name,
    width,
    doc: { enc: `BCD ${width}`, ...doc },
    decode(b, o, out) {
      // A byte that is not valid BCD stays a hex string, so the frame still round-trips.
      out[name] = bcdNumAt(b, o, width);
    },
    gen(b, at, scope) {
      if (width !== 1) return { props: [[name, `${scope.ref(bcdNumAt)}(${b},${at(0)},${width})`]] };
      const g = scope.local();
      return {
        pre: `const ${g}=${b}[${at(0)}];`,
        props: [[name, `(${g}&15)<10&&${g}<160?(${g}>>4)*10+(${g}&15):${scope.ref(HEX2)}[${g}]`]],
      };
    },
    encode(b, o, body, ctx) {
      const v = body[name];
      if (v === undefined || v === null) throw fieldError(ctx, name, v, 'is required');
      if (typeof v === 'string' && /^[0-9A-Fa-f]+$/.test(v) && v.length === width * 2) {
        writeHexDigits(b, o, width, v, ctx, name, v, 'digits');
        return;
      }
      const n = typeof v === 'string' && /^[0-9]+$/.test(v) ? Number(v) : v;
      if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > max) {
        throw fieldError(ctx, name, v, `must be an integer from 0 to ${max}`);
      }
      writeHexDigits(b, o, width, String(n), ctx, name, v, 'digits');
    },
  };
}

/** Opaque bytes as an upper-case hex string in wire order; shorter input is left-padded with zeros. */
export function hex(name: string, width: number, doc: Partial<FieldDoc> = {}): Field {
  return {
    name,
    width,
    doc: { enc: `BIN ${width} (hex)`, ...doc },
    decode(b, o, out) {
      out[name] = hexSlice(b, o, width);
    },
    gen(b, at, scope) {
      return { props: [[name, hexSource(b, at, width, scope)]] };
    },
    encode(b, o, body, ctx) {
      const v = body[name];
      if (v === undefined || v === null || v === '') {
        b.fill(0, o, o + width);
        return;
      }
      if (typeof v !== 'string') throw fieldError(ctx, name, v, 'must be a hex string');
      const digits = v.replace(/\s+/g, '');
      writeHexDigits(b, o, width, digits.length % 2 ? '0' + digits : digits, ctx, name, v, 'hex digits');
    },
  };
}

/** Reserved bytes: shown only when a pile fills them with something other than zeros. */
export function reserved(name: string, width: number): Field {
  const f = hex(name, width, { values: 'reserved, zeros' });
  return {
    ...f,
    decode(b, o, out) {
      if (!allZero(b, o, width)) out[name] = hexSlice(b, o, width);
    },
    gen(b, at, scope) {
      return { props: [], post: `if(!${scope.ref(allZero)}(${b},${at(0)},${width}))out[${JSON.stringify(name)}]=${hexSource(b, at, width, scope)};` };
    },
  };
}

/**
 * Is s hex of whole bytes? A linear scan: `/^([0-9A-F]{2})*$/` recurses per byte in V8 and throws
 * RangeError (stack overflow) on multi-megabyte input.
 */
export function isWholeHex(s: string): boolean {
  return s.length % 2 === 0 && !/[^0-9A-Fa-f]/.test(s);
}

/** What a secret field shows instead of its value (fixed, so its length is not told either). */
export const SECRET_MASK = '******';

// ---- ASCII -----------------------------------------------------------------------------------

function trimNuls(s: string): string {
  let e = s.length;
  while (e > 0 && s.charCodeAt(e - 1) === 0) e--;
  return e === s.length ? s : s.slice(0, e);
}

/** Text of b[o, o+w) mapped 1:1 (latin1), trailing NULs dropped. */
function asciiAt(b: Buffer, o: number, w: number): string {
  let e = o + w;
  while (e > o && b[e - 1] === 0) e--;
  return e === o ? '' : b.toString('latin1', o, e);
}

/** The same for a field sent back to front: the last byte is the first character. */
function asciiReversedAt(b: Buffer, o: number, w: number): string {
  let s = o; // trailing NULs of the text are the leading bytes on the wire
  while (s < o + w && b[s] === 0) s++;
  let t = '';
  for (let i = o + w - 1; i >= s; i--) t += String.fromCharCode(b[i]);
  return t;
}

/**
 * Text padded with NULs. Decoding drops trailing NULs only and maps bytes 1:1 (latin1), so any
 * content round-trips. `reversed` is for the VIN of 0x31/0xA1, which the pile sends back to front.
 */
export function ascii(name: string, width: number, opts: { reversed?: boolean; secret?: boolean; doc?: Partial<FieldDoc> } = {}): Field {
  const reversed = !!opts.reversed;
  // A secret's errors name the field, never its value.
  const shown = (v: unknown): unknown => (opts.secret ? SECRET_MASK : v);
  return {
    name,
    width,
    ...(opts.secret ? { secret: true } : {}),
    doc: { enc: `ASCII ${width}${reversed ? ' (byte-reversed)' : ''}`, ...opts.doc },
    decode(b, o, out) {
      out[name] = reversed ? asciiReversedAt(b, o, width) : asciiAt(b, o, width);
    },
    gen(b, at, scope) {
      if (width > 64) return { props: [[name, `${scope.ref(reversed ? asciiReversedAt : asciiAt)}(${b},${at(0)},${width})`]] };
      const codes: string[] = [];
      for (let k = 0; k < width; k++) codes.push(`${b}[${at(reversed ? width - 1 - k : k)}]`);
      return { props: [[name, `${scope.ref(trimNuls)}(String.fromCharCode(${codes.join(',')}))`]] };
    },
    encode(b, o, body, ctx) {
      const v = body[name] ?? '';
      if (typeof v !== 'string') throw fieldError(ctx, name, shown(v), 'must be a string');
      if (v.length > width) throw fieldError(ctx, name, shown(v), `is longer than ${width} characters`);
      for (let i = 0; i < width; i++) {
        const c = i < v.length ? v.charCodeAt(i) : 0;
        if (c > 0xff) throw fieldError(ctx, name, shown(v), 'must be ASCII text');
        b[reversed ? o + width - 1 - i : o + i] = c;
      }
    },
  };
}

// ---- little-endian integers ------------------------------------------------------------------

export function readUintLE(b: Buffer, o: number, w: number): number {
  switch (w) {
    case 1:
      return b[o];
    case 2:
      return b[o] | (b[o + 1] << 8);
    case 4:
      return (b[o] | (b[o + 1] << 8) | (b[o + 2] << 16)) + b[o + 3] * 0x1000000;
    default: {
      let v = 0;
      for (let i = w - 1; i >= 0; i--) v = v * 256 + b[o + i];
      return v;
    }
  }
}

export function writeUintLE(b: Buffer, o: number, w: number, v: number): void {
  for (let i = 0; i < w; i++) {
    b[o + i] = v % 256;
    v = Math.floor(v / 256);
  }
}

/** Relative tolerance for "is this number an exact decimal": 16 ulps. */
const DECIMAL_NOISE = 16 * Number.EPSILON;

export interface UintOpts {
  /** Number of decimals on the wire: value = raw / 10^decimals. */
  decimals?: number;
  /** Added after scaling, in real units (−50 for °C + 50, −400 for BMS currents). */
  offset?: number;
  /** Raw 0 means "not available" (standby temperatures): decoded as null. */
  zeroIsNull?: boolean;
  unit?: string;
  values?: string;
}

/** Unsigned little-endian integer (BIN), optionally scaled and offset into real units. */
export function uint(name: string, width: number, opts: UintOpts = {}): Field {
  const decimals = opts.decimals ?? 0;
  const pow = 10 ** decimals;
  const offsetRaw = Math.round((opts.offset ?? 0) * pow);
  const maxRaw = 2 ** (width * 8) - 1;
  const zeroIsNull = !!opts.zeroIsNull;
  const plain = decimals === 0 && offsetRaw === 0;
  const lo = offsetRaw / pow;
  const hi = (maxRaw + offsetRaw) / pow;
  return {
    name,
    width,
    doc: {
      enc: `BIN ${width}`,
      unit: [opts.unit, decimals ? `×10^-${decimals}` : '', opts.offset ? `offset ${opts.offset}` : '']
        .filter(Boolean)
        .join(', ') || undefined,
      values: [opts.values, zeroIsNull ? '0 = not available (null)' : ''].filter(Boolean).join('; ') || undefined,
    },
    decode(b, o, out) {
      const raw = readUintLE(b, o, width);
      if (zeroIsNull && raw === 0) out[name] = null;
      // (raw + offset) / pow keeps the result the exact decimal the wire integer stands for.
      else out[name] = plain ? raw : (raw + offsetRaw) / pow;
    },
    gen(b, at, scope) {
      const raw = uintSource(b, at, width, scope);
      const scaled = (x: string): string => (plain ? x : `(${x}+(${offsetRaw}))/${pow}`);
      if (!zeroIsNull) return { props: [[name, scaled(raw)]] };
      const t = scope.local();
      return { pre: `const ${t}=${raw};`, props: [[name, `${t}===0?null:${scaled(t)}`]] };
    },
    encode(b, o, body, ctx) {
      const v = body[name];
      if (v === null && zeroIsNull) {
        writeUintLE(b, o, width, 0);
        return;
      }
      if (v === undefined || v === null) throw fieldError(ctx, name, v, 'is required');
      const n = typeof v === 'string' && v.trim() !== '' ? Number(v) : v;
      if (typeof n !== 'number' || !Number.isFinite(n)) throw fieldError(ctx, name, v, 'must be a number');
      const rounded = Math.round(n * pow);
      // n must be a decimal with at most `decimals` digits, give or take float noise (0.1 + 0.2):
      // a few ulps of n, far below one unit of an extra digit even for 5-byte meter readings.
      if (Math.abs(rounded / pow - n) > Math.abs(n) * DECIMAL_NOISE) {
        throw fieldError(ctx, name, v, `has more than ${decimals} decimal${decimals === 1 ? '' : 's'}`);
      }
      const raw = rounded - offsetRaw;
      if (raw < 0 || raw > maxRaw) throw fieldError(ctx, name, v, `is out of range ${lo}…${hi}`);
      writeUintLE(b, o, width, raw);
    },
  };
}

/**
 * Enumerated byte: the code under `name` and a readable English name under `name + "Name"`.
 * Unknown codes decode to "unknown" and still round-trip.
 */
export function enumeration(name: string, width: number, table: Readonly<Record<number, string>>, doc: Partial<FieldDoc> = {}): Field {
  const inner = uint(name, width);
  const nameKey = name + 'Name';
  const dense: string[] = [];
  for (let code = 0; code < 256; code++) dense.push(table[code] ?? 'unknown');
  const values = Object.entries(table)
    .map(([k, v]) => `${Number(k)} ${v}`)
    .join(', ');
  return {
    name,
    width,
    doc: { enc: `BIN ${width}`, values, ...doc },
    decode(b, o, out) {
      const code = readUintLE(b, o, width);
      out[name] = code;
      out[nameKey] = table[code] ?? 'unknown';
    },
    gen(b, at, scope) {
      const c = scope.local();
      // One-byte codes look their name up in a dense 256-entry array.
      const lookup = width === 1 ? `${scope.ref(dense)}[${c}]` : `(${scope.ref(table)}[${c}]??"unknown")`;
      return { pre: `const ${c}=${uintSource(b, at, width, scope)};`, props: [[name, c], [nameKey, lookup]] };
    },
    encode(b, o, body, ctx) {
      const v = body[name];
      if (typeof v === 'string' && !/^\d+$/.test(v)) {
        // Accept the readable name too, so flows can write { result: "accepted" }.
        const hit = Object.entries(table).find(([, n]) => n === v);
        if (!hit) throw fieldError(ctx, name, v, `is not one of: ${values}`);
        writeUintLE(b, o, width, Number(hit[0]));
        return;
      }
      inner.encode(b, o, body, ctx);
    },
  };
}

/** A bit map decoded to the number plus the list of set flags' names (bit 0 first). */
export function flags(name: string, width: number, listName: string, bitNames: readonly string[]): Field {
  const inner = uint(name, width);
  const names: string[] = [];
  for (let i = 0; i < width * 8; i++) names.push(bitNames[i] ?? `bit${i}`);
  const setFlags = (v: number): string[] => {
    const set: string[] = [];
    if (v !== 0) for (let i = 0; i < names.length; i++) if (v & (1 << i)) set.push(names[i]);
    return set;
  };
  return {
    name,
    width,
    doc: { enc: `BIN ${width}, bit map`, values: `${bitNames.map((n, i) => `bit ${i} ${n}`).join(', ')}; names of the set bits in ${listName}` },
    decode(b, o, out) {
      const v = readUintLE(b, o, width);
      out[name] = v;
      out[listName] = setFlags(v);
    },
    gen(b, at, scope) {
      const v = scope.local();
      return { pre: `const ${v}=${uintSource(b, at, width, scope)};`, props: [[name, v], [listName, `${scope.ref(setFlags)}(${v})`]] };
    },
    encode(b, o, body, ctx) {
      if (body[name] === undefined && Array.isArray(body[listName])) {
        let v = 0;
        for (const f of body[listName] as unknown[]) {
          const i = bitNames.indexOf(String(f));
          if (i < 0) throw fieldError(ctx, listName, f, `is not one of: ${bitNames.join(', ')}`);
          v |= 1 << i;
        }
        writeUintLE(b, o, width, v);
        return;
      }
      inner.encode(b, o, body, ctx);
    },
  };
}

/**
 * Sub-byte fields, least significant bit first ("bit 1" of the document = bit 0 here).
 * Decodes to a nested object; parts whose name starts with "reserved" appear only when non-zero.
 */
export function bits(name: string, width: number, parts: ReadonlyArray<readonly [string, number]>, doc: Partial<FieldDoc> = {}): Field {
  let total = 0;
  for (const [, w] of parts) total += w;
  if (total !== width * 8) throw new Error(`bits(${name}): parts cover ${total} of ${width * 8} bits`);
  const inner = uint(name, width);
  const partsOf = (v: number): Record<string, number> => {
    const obj: Record<string, number> = {};
    let shift = 0;
    for (const [p, w] of parts) {
      const x = (v >>> shift) & ((1 << w) - 1);
      if (x !== 0 || !p.startsWith('reserved')) obj[p] = x;
      shift += w;
    }
    return obj;
  };
  return {
    name,
    width,
    doc: {
      enc: `BIN ${width}, bit fields`,
      ...doc,
      // The part names, LSB first, then what their values mean.
      values: [parts.filter(([p]) => !p.startsWith('reserved')).map(([p, w]) => `${p} (${w} bit${w > 1 ? 's' : ''})`).join(', '), doc.values].filter(Boolean).join(' — '),
    },
    decode(b, o, out) {
      out[name] = partsOf(readUintLE(b, o, width));
    },
    gen(b, at, scope) {
      // Usually every reserved part is zero: then the object is one literal of the named parts;
      // otherwise the general routine keeps the parts in order, reserved ones included.
      const v = scope.local();
      let shift = 0;
      let reservedMask = 0;
      const lit: string[] = [];
      for (const [p, w] of parts) {
        const mask = (1 << w) - 1;
        if (p.startsWith('reserved')) reservedMask += mask * 2 ** shift;
        else lit.push(`${JSON.stringify(p)}:${shift ? `(${v}>>>${shift})&${mask}` : `${v}&${mask}`}`);
        shift += w;
      }
      const obj = `{${lit.join(',')}}`;
      const expr = reservedMask ? `(${v}&${reservedMask | 0})===0?${obj}:${scope.ref(partsOf)}(${v})` : obj;
      return { pre: `const ${v}=${uintSource(b, at, width, scope)};`, props: [[name, expr]] };
    },
    encode(b, o, body, ctx) {
      const src = body[name];
      if (src === undefined || src === null) {
        writeUintLE(b, o, width, 0);
        return;
      }
      if (typeof src === 'number') {
        inner.encode(b, o, { [name]: src }, ctx);
        return;
      }
      if (typeof src !== 'object') throw fieldError(ctx, name, src, 'must be an object of bit fields');
      let v = 0;
      let shift = 0;
      for (const [p, w] of parts) {
        const x = (src as Record<string, unknown>)[p] ?? 0;
        if (typeof x !== 'number' || !Number.isInteger(x) || x < 0 || x >= 1 << w) {
          throw fieldError(ctx, `${name}.${p}`, x, `must be an integer from 0 to ${(1 << w) - 1}`);
        }
        v += x * 2 ** shift;
        shift += w;
      }
      writeUintLE(b, o, width, v);
    },
  };
}
