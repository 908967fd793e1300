/**
 * Independent helpers for hand-built frames: a bit-by-bit CRC-16/MODBUS written from docs/protocol.md
 * §2.1 (not the codec's table routine) and a frame assembler that only concatenates hex.
 * Nothing here calls the codec, so fixtures built with it check the codec from outside.
 */

/** CRC-16/MODBUS, the ten-line routine of docs/protocol.md §2.1: init 0xFFFF, reflected poly 0xA001. */
export function crcBitwise(bytes: Uint8Array): number {
  let c = 0xffff;
  for (const b of bytes) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xa001 : c >>> 1;
  }
  return c;
}

const h2 = (n: number): string => n.toString(16).toUpperCase().padStart(2, '0');

/** Hex of one or more fields: spaces and case do not matter. */
export function hexOf(parts: readonly string[]): string {
  const s = parts.join('').replace(/\s+/g, '').toUpperCase();
  if (!/^([0-9A-F]{2})*$/.test(s)) throw new Error(`bad hex in fixture: ${s}`);
  return s;
}

export interface HandFrameOptions {
  /** The two sequence bytes as they go on the wire. Default "0100". */
  seq?: string;
  /** Encryption flag byte. Default 0. */
  flag?: number;
  /** Put the CRC high byte first (JCPP-style piles). */
  hiFirst?: boolean;
  /** Override the length byte (to build broken frames). */
  lengthByte?: number;
}

/** 68 | L | seq | flag | type | body | CRC (low byte first unless hiFirst). */
export function handFrame(type: number, body: readonly string[] | string, opts: HandFrameOptions = {}): string {
  const bodyHex = hexOf(typeof body === 'string' ? [body] : body);
  const seq = hexOf([opts.seq ?? '0100']);
  if (seq.length !== 4) throw new Error('seq must be two bytes');
  const covered = seq + h2(opts.flag ?? 0) + h2(type) + bodyHex;
  const L = opts.lengthByte ?? covered.length / 2;
  const crc = crcBitwise(Buffer.from(covered, 'hex'));
  const lo = h2(crc & 0xff);
  const hi = h2(crc >>> 8);
  return '68' + h2(L) + covered + (opts.hiFirst ? hi + lo : lo + hi);
}

/** ASCII text as hex, NUL-padded to width bytes. */
export function asciiHex(text: string, width: number): string {
  if (text.length > width) throw new Error('text too long');
  return Buffer.from(text.padEnd(width, '\0'), 'latin1').toString('hex').toUpperCase();
}

/** Tiny seeded PRNG (mulberry32), so random tests repeat exactly. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** One hand-checked frame: bytes written from a docs/protocol.md table and the body we expect. */
export interface HandFixture {
  /** What the case shows. */
  title: string;
  type: number;
  /** Frame name the decoder must report. */
  name: string;
  /** The docs/protocol.md table (or other source) the bytes were written from. */
  source: string;
  /** Body hex, one entry per field, in table order. */
  body: string[];
  seq?: string;
  /** The complete decoded body, field by field. */
  expect: Record<string, unknown>;
  /** False when the expected object alone cannot re-create the bytes (never the case so far). */
  encodesFromExpect?: boolean;
}

export const PILE = '32 01 02 00 00 00 01'; // pile 32010200000001 (the document's example pile)
export const PILE_NO = '32010200000001';
export const TRADE = '32 01 02 00 00 00 01 01 25 10 10 11 06 33 00 01'; // pile + gun 01 + 251010110633 + 0001
export const TRADE_NO = '32010200000001012510101106330001';
/** VIN used throughout: LGXCE4CB5M0123456 (17 characters). */
export const VIN = 'LGXCE4CB5M0123456';
export const VIN_HEX = '4C 47 58 43 45 34 43 42 35 4D 30 31 32 33 34 35 36';
/** The same VIN back to front, as 0x31/0xA1 carry it (docs/protocol.md §3.1). */
export const VIN_REVERSED_HEX = '36 35 34 33 32 31 30 4D 35 42 43 34 45 43 58 47 4C';
