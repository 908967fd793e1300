/**
 * Hand-made frames for tests, built without the project's encoder: hex in, CRC from a separate
 * bit-by-bit CRC-16/MODBUS, so tests do not check the codec against itself.
 */
export function crcBitwise(data: Uint8Array): number {
  let c = 0xffff;
  for (const byte of data) {
    c ^= byte;
    for (let i = 0; i < 8; i++) c = c & 1 ? (c >>> 1) ^ 0xa001 : c >>> 1;
  }
  return c;
}

/** 0x68 | L | seq | flag | type | body | CRC (low byte first unless hiFirst). */
export function rawFrame(type: number, bodyHex: string, seqHex = '0000', opts: { hiFirst?: boolean; flag?: number } = {}): Buffer {
  const body = Buffer.from(bodyHex.replace(/\s+/g, ''), 'hex');
  const inner = Buffer.concat([Buffer.from(seqHex, 'hex'), Buffer.from([opts.flag ?? 0, type]), body]);
  const crc = crcBitwise(inner);
  const crcBytes = opts.hiFirst ? [crc >>> 8, crc & 0xff] : [crc & 0xff, crc >>> 8];
  return Buffer.concat([Buffer.from([0x68, inner.length]), inner, Buffer.from(crcBytes)]);
}

/** CRC-16/MODBUS over b[from, to): a received frame's seq … body. */
export const crc16 = (b: Uint8Array, from: number, to: number): number => crcBitwise(b.subarray(from, to));

/** rawFrame from bytes: seq as its two wire bytes (as given), flag 0. */
export const frameOf = (type: number, seq: readonly [number, number], body: Buffer): Buffer => rawFrame(type, body.toString('hex'), Buffer.from(seq).toString('hex'));

export const hexOf = (b: Buffer): string => b.toString('hex').toUpperCase();
