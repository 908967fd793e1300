/**
 * CRC-16/MODBUS (poly 0x8005 reflected = 0xA001, init 0xFFFF, no final xor), the CRC the YKC
 * document's appendix code and every real pile frame use (docs/protocol.md §2.1; the text's "0x180D"
 * is an erratum). Check value: "123456789" → 0x4B37.
 */
const TABLE = new Uint16Array(256);
for (let n = 0; n < 256; n++) {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xa001 : c >>> 1;
  TABLE[n] = c;
}

export function crc16Modbus(buf: Uint8Array, start = 0, end = buf.length): number {
  let crc = 0xffff;
  for (let i = start; i < end; i++) crc = (crc >>> 8) ^ TABLE[(crc ^ buf[i]) & 0xff];
  return crc;
}

/** How the two CRC bytes were laid on the wire: the spec's low byte first, or the swapped variant. */
export type CrcOrder = 'lo-first' | 'hi-first';

/**
 * Checks a whole frame's CRC (covering seq … end of body) and tells which byte order matched,
 * or null when neither does. Low byte first is tried first because the spec and every real
 * capture use it.
 */
export function checkFrameCrc(frame: Uint8Array, offset: number, frameLen: number): CrcOrder | null {
  const crc = crc16Modbus(frame, offset + 2, offset + frameLen - 2);
  const b0 = frame[offset + frameLen - 2];
  const b1 = frame[offset + frameLen - 1];
  if (b0 === (crc & 0xff) && b1 === crc >>> 8) return 'lo-first';
  if (b0 === crc >>> 8 && b1 === (crc & 0xff)) return 'hi-first';
  return null;
}
