/** Shared bits for the simulator tests. */
import { ManualClock } from '../../src/simulator';
import { crcBitwise } from './platform';

/** Epoch ms of a China wall time (UTC+8). */
export function china(y: number, mo: number, d: number, h: number, mi: number, s = 0): number {
  return Date.UTC(y, mo - 1, d, h - 8, mi, s);
}

/**
 * Moves a ManualClock forward in steps, giving the loopback sockets a moment after each step so
 * replies (heartbeats, acks) reach the pile before the next period falls due.
 */
export async function advance(clock: ManualClock, ms: number, step = 5000): Promise<void> {
  let left = ms;
  while (left > 0) {
    const d = Math.min(step, left);
    clock.advance(d);
    left -= d;
    await new Promise((r) => setTimeout(r, 2));
  }
}

/** A frame built by hand (header, body hex, bit-by-bit CRC low byte first), not by encodeFrame. */
export function handFrame(type: number, seq: number, bodyHex: string): Buffer {
  const body = Buffer.from(bodyHex.replace(/\s+/g, ''), 'hex');
  const inner = Buffer.concat([Buffer.from([seq & 0xff, seq >> 8, 0x00, type]), body]);
  const crc = crcBitwise(inner);
  return Buffer.concat([Buffer.from([0x68, inner.length]), inner, Buffer.from([crc & 0xff, crc >> 8])]);
}

export const tick = (ms = 20) => new Promise((r) => setTimeout(r, ms));
