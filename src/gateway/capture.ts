/**
 * Capture files: a pile's traffic as JSON lines, one frame a line, so it can be saved from the
 * editor's YKC sidebar or `ykc serve --capture`, read back by `ykc decode`, and played against
 * another gateway by `ykc replay`:
 *
 *   {"at":"2026-12-04T23:20:01.123Z","dir":"in","pileNo":"32010200000001","hex":"680D…"}
 *
 * `dir` is seen from the platform: "in" = pile → platform, "out" = platform → pile. `at` is an
 * ISO 8601 instant (UTC). Extra keys (`remote`, `sessionId`, `type`, `name`) are informative;
 * readers need only the four above.
 */
import { DecodedFrame, encodeFrame, YkcError } from '../protocol';

export interface CaptureLine {
  at: string;
  dir: 'in' | 'out';
  pileNo: string | null;
  hex: string;
  remote?: string;
  sessionId?: number;
  type?: number;
  name?: string;
}

/** Longest capture line a reader accepts: a 259-byte frame as hex plus its metadata fits many times over. */
export const CAPTURE_MAX_LINE = 4096;

/** The frame's bytes as upper-case hex: the raw bytes when known, else re-encoded (lossless for well-formed frames). */
export function frameHex(frame: DecodedFrame, raw?: string): string | null {
  if (raw) return raw;
  try {
    return encodeFrame(frame).toString('hex').toUpperCase();
  } catch {
    return null;
  }
}

export function captureLine(
  dir: 'in' | 'out',
  ev: { pileNo: string | null; frame: DecodedFrame; receivedAt: number; raw?: string; remote?: string; sessionId?: number },
): CaptureLine | null {
  const hex = frameHex(ev.frame, ev.raw);
  if (!hex) return null;
  return {
    at: new Date(ev.receivedAt).toISOString(),
    dir,
    pileNo: ev.pileNo,
    hex,
    ...(ev.remote ? { remote: ev.remote } : {}),
    ...(ev.sessionId !== undefined ? { sessionId: ev.sessionId } : {}),
    type: ev.frame.type,
    name: ev.frame.name,
  };
}

/**
 * Reads one capture line; null for a blank line. Throws YKC_INPUT naming what is wrong, so a reader
 * can say which line of which file is broken and go on with the next.
 */
export function parseCaptureLine(line: string): CaptureLine | null {
  const text = line.trim();
  if (!text) return null;
  if (text.length > CAPTURE_MAX_LINE) throw new YkcError('YKC_INPUT', `capture line longer than ${CAPTURE_MAX_LINE} characters`);
  let j: unknown;
  try {
    j = JSON.parse(text);
  } catch (e) {
    throw new YkcError('YKC_INPUT', `capture line is not JSON: ${(e as Error).message}`);
  }
  if (!j || typeof j !== 'object' || Array.isArray(j)) throw new YkcError('YKC_INPUT', 'capture line is not a JSON object');
  const o = j as Record<string, unknown>;
  if (o.dir !== 'in' && o.dir !== 'out') throw new YkcError('YKC_INPUT', 'capture line needs "dir": "in" or "out"', { field: 'dir' });
  if (typeof o.hex !== 'string' || !/^(?:[0-9a-fA-F]{2})+$/.test(o.hex)) throw new YkcError('YKC_INPUT', 'capture line needs "hex": the frame bytes as hex', { field: 'hex' });
  if (typeof o.at !== 'string' || Number.isNaN(Date.parse(o.at))) throw new YkcError('YKC_INPUT', 'capture line needs "at": an ISO 8601 time', { field: 'at' });
  if (o.pileNo !== null && o.pileNo !== undefined && typeof o.pileNo !== 'string') throw new YkcError('YKC_INPUT', '"pileNo" must be a string', { field: 'pileNo' });
  return {
    at: o.at,
    dir: o.dir,
    pileNo: (o.pileNo as string | null | undefined) ?? null,
    hex: o.hex.toUpperCase(),
    ...(typeof o.remote === 'string' ? { remote: o.remote } : {}),
    ...(typeof o.sessionId === 'number' ? { sessionId: o.sessionId } : {}),
    ...(typeof o.type === 'number' ? { type: o.type } : {}),
    ...(typeof o.name === 'string' ? { name: o.name } : {}),
  };
}
