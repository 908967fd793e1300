/**
 * CP56Time2a (IEC 60870-5-104), 7 bytes, local (China) wall-clock time. docs/protocol.md §3.2.
 *
 * Decoded form, chosen so flows can read it and every byte pattern still round-trips:
 *   - all seven bytes zero → null (records of failed starts carry no time);
 *   - a valid time → "YYYY-MM-DD HH:mm:ss" (".SSS" appended when milliseconds are set), always
 *     just the time, so billing, SQLite and flows can read it as one;
 *   - the two flags a pile may set on a valid time sit next to it, present only when set, so
 *     re-encoding gives the same bytes: the day of week (byte 4 bits 5–7, JCPP and other real
 *     firmware fill it) as `<field>Weekday` 1–7, the summer-time bit (byte 3 bit 7) as
 *     `<field>SummerTime: true`. The weekday is kept as sent, not checked against the date.
 *   - anything else (IV "invalid" flag, reserved bits, out-of-range parts such as 30 February)
 *     → "cp56:" + the 14 hex digits, re-encoded verbatim.
 * Encoding still accepts the older "… SU" suffix for the summer-time bit.
 */
import { Field, FieldDoc, fieldError, hexSlice } from './fields';

export interface WallTime {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
  ms: number;
}

const pad = (n: number, w = 2): string => String(n).padStart(w, '0');

export function formatWallTime(t: WallTime): string {
  const base = `${pad(t.year, 4)}-${pad(t.month)}-${pad(t.day)} ${pad(t.hour)}:${pad(t.minute)}:${pad(t.second)}`;
  return t.ms ? `${base}.${pad(t.ms, 3)}` : base;
}

/** China has used a fixed UTC+8 offset since 1991; the protocol has no zone field. */
export const CHINA_OFFSET_MINUTES = 480;

/** Wall time in a fixed-offset zone for an instant. */
export function wallTimeOf(date: Date, offsetMinutes = CHINA_OFFSET_MINUTES): WallTime {
  const d = new Date(date.getTime() + offsetMinutes * 60_000);
  return {
    year: d.getUTCFullYear(),
    month: d.getUTCMonth() + 1,
    day: d.getUTCDate(),
    hour: d.getUTCHours(),
    minute: d.getUTCMinutes(),
    second: d.getUTCSeconds(),
    ms: d.getUTCMilliseconds(),
  };
}

/** The instant a wall time stands for in a fixed-offset zone. */
export function instantOf(t: WallTime, offsetMinutes = CHINA_OFFSET_MINUTES): Date {
  return new Date(Date.UTC(t.year, t.month - 1, t.day, t.hour, t.minute, t.second, t.ms) - offsetMinutes * 60_000);
}

const WALL_RE = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,3}))?)?$/;
const ZONED_RE = /(Z|[+-]\d{2}:?\d{2})$/;

/**
 * Reads a wall time from "YYYY-MM-DD HH:mm[:ss[.SSS]]". A string with a zone (ISO "…Z" or
 * "…+02:00"), a Date or epoch milliseconds is an instant and is converted to China time.
 */
export function parseWallTime(v: unknown): WallTime | null {
  if (v instanceof Date) return isNaN(v.getTime()) ? null : wallTimeOf(v);
  if (typeof v === 'number') return Number.isFinite(v) ? wallTimeOf(new Date(v)) : null;
  if (typeof v !== 'string') return null;
  const s = v.trim();
  if (ZONED_RE.test(s)) {
    const d = new Date(s);
    return isNaN(d.getTime()) ? null : wallTimeOf(d);
  }
  const m = WALL_RE.exec(s);
  if (!m) return null;
  const t: WallTime = {
    year: +m[1],
    month: +m[2],
    day: +m[3],
    hour: +m[4],
    minute: +m[5],
    second: m[6] ? +m[6] : 0,
    ms: m[7] ? +m[7].padEnd(3, '0') : 0,
  };
  return isValidWall(t) ? t : null;
}

function isValidWall(t: WallTime): boolean {
  if (t.year < 2000 || t.year > 2127 || t.month < 1 || t.month > 12 || t.day < 1) return false;
  return t.day <= daysIn(t.year, t.month) && t.hour < 24 && t.minute < 60 && t.second < 60 && t.ms < 1000;
}

const PAD2: string[] = [];
for (let i = 0; i < 100; i++) PAD2.push(i < 10 ? '0' + i : String(i));
const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

function daysIn(year: number, month: number): number {
  return month === 2 && year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : DAYS_IN_MONTH[month - 1];
}

export function decodeCp56(b: Buffer, o: number): string | null {
  const lo = b[o];
  const hi = b[o + 1];
  const minute = b[o + 2];
  const hourByte = b[o + 3];
  const dayByte = b[o + 4];
  const month = b[o + 5];
  const yy = b[o + 6];
  if ((lo | hi | minute | hourByte | dayByte | month | yy) === 0) return null;
  const msAll = lo | (hi << 8);
  const hour = hourByte & 0x7f;
  const day = dayByte & 0x1f;
  // Any other flag, reserved bit or out-of-range part (IV, 30 February…): keep the raw bytes rather
  // than guess. The IV and reserved bits all push their byte out of range.
  if (minute > 59 || hour > 23 || month < 1 || month > 12 || day < 1 || yy > 127 || msAll > 59_999 || day > daysIn(2000 + yy, month)) {
    return 'cp56:' + hexSlice(b, o, 7);
  }
  const ms = msAll % 1000;
  const base = `${2000 + yy}-${PAD2[month]}-${PAD2[day]} ${PAD2[hour]}:${PAD2[minute]}:${PAD2[(msAll - ms) / 1000]}`;
  return ms ? `${base}.${ms < 10 ? '00' : ms < 100 ? '0' : ''}${ms}` : base;
}

/** Property names of a CP56 field's flags, next to the time (e.g. startTimeWeekday). */
export const weekdayKey = (name: string): string => name + 'Weekday';
export const summerTimeKey = (name: string): string => name + 'SummerTime';

/**
 * Adds the day of week and the summer-time flag of the time at b[o…] to `out`, when decodeCp56
 * read it as a time and the pile set them (a "cp56:" value already holds every bit).
 */
export function decodeCp56Flags(b: Buffer, o: number, out: Record<string, unknown>, name: string): void {
  const weekday = b[o + 4] >>> 5;
  const su = b[o + 3] & 0x80;
  if ((weekday | su) === 0) return;
  const t = out[name];
  if (typeof t !== 'string' || t.startsWith('cp56:')) return;
  if (weekday) out[weekdayKey(name)] = weekday;
  if (su) out[summerTimeKey(name)] = true;
}

/** The older decoded form of the summer-time bit ("… SU"), still accepted when encoding. */
const SU_SUFFIX = ' SU';

/**
 * Writes the time `v` at b[o…]. `flags` is the body holding `<name>Weekday` / `<name>SummerTime`
 * (they apply to a time, not to a verbatim "cp56:" value, which holds its own bits).
 */
export function encodeCp56(b: Buffer, o: number, v: unknown, ctx: string, name: string, flags?: Record<string, unknown>): void {
  if (v === null || v === undefined) {
    b.fill(0, o, o + 7);
    return;
  }
  if (typeof v === 'string' && v.startsWith('cp56:')) {
    const h = v.slice(5);
    if (!/^[0-9A-Fa-f]{14}$/.test(h)) throw fieldError(ctx, name, v, 'must be "cp56:" followed by 14 hex digits');
    Buffer.from(h, 'hex').copy(b, o);
    return;
  }
  const suffixed = typeof v === 'string' && v.endsWith(SU_SUFFIX);
  const t = parseWallTime(suffixed ? (v as string).slice(0, -SU_SUFFIX.length) : v);
  if (!t) throw fieldError(ctx, name, v, 'must be a time "YYYY-MM-DD HH:mm:ss" (China time), an ISO time with zone, a Date or epoch ms, years 2000–2127');
  let weekday = 0;
  let su = suffixed;
  if (flags) {
    const w = flags[weekdayKey(name)];
    if (w !== undefined && w !== null) {
      if (typeof w !== 'number' || !Number.isInteger(w) || w < 0 || w > 7) throw fieldError(ctx, weekdayKey(name), w, 'must be a day of week 1–7 (0 or absent: not sent)');
      weekday = w;
    }
    const s = flags[summerTimeKey(name)];
    if (s !== undefined && s !== null) {
      if (typeof s !== 'boolean') throw fieldError(ctx, summerTimeKey(name), s, 'must be true or false');
      su ||= s;
    }
  }
  const ms = t.second * 1000 + t.ms;
  b[o] = ms & 0xff;
  b[o + 1] = ms >>> 8;
  b[o + 2] = t.minute;
  b[o + 3] = su ? t.hour | 0x80 : t.hour;
  b[o + 4] = t.day | (weekday << 5);
  b[o + 5] = t.month;
  b[o + 6] = t.year - 2000;
}

export function cp56(name: string, doc: Partial<FieldDoc> = {}): Field {
  return {
    name,
    width: 7,
    doc: { enc: 'CP56Time2a', ...doc },
    keys: [weekdayKey(name), summerTimeKey(name)],
    decode(b, o, out) {
      out[name] = decodeCp56(b, o);
    },
    decodeAfter(b, o, out) {
      decodeCp56Flags(b, o, out, name);
    },
    gen(b, at, scope) {
      return { props: [[name, `${scope.ref(decodeCp56)}(${b},${at(0)})`]] };
    },
    encode(b, o, body, ctx) {
      encodeCp56(b, o, body[name], ctx, name, body);
    },
  };
}
