/**
 * A YKC billing model (计费模型, docs/protocol.md §5.1 0x0A/0x58 and §7): four price levels, each with an
 * electricity and a service-fee rate in 0.00001 yuan/kWh, 48 half-hour slots pointing at a level,
 * and a loss ratio. Held in integer units; the decoded 0x58 body is its exchange format.
 */
import { YkcError } from '../protocol/errors';
import { formatUnits, fromUnits, PRICE_DECIMALS, toUnits } from './fees';

export const LEVEL_NAMES = ['sharp', 'peak', 'flat', 'valley'] as const;
export type LevelName = (typeof LEVEL_NAMES)[number];
/** Level codes as on the wire: 0 sharp 尖, 1 peak 峰, 2 flat 平, 3 valley 谷. */
export type LevelCode = 0 | 1 | 2 | 3;
export const LEVEL_ZH = ['尖', '峰', '平', '谷'] as const;

export const SLOT_COUNT = 48;
export const SLOT_MINUTES = 30;
export const MINUTES_PER_DAY = 1440;
const MAX_U32 = 0xffffffff;

/** The decoded 0x0A / 0x58 body (prices in yuan/kWh with at most 5 decimals). */
export interface TariffBody {
  pileNo?: string;
  modelCode: string;
  sharpElecPrice: number;
  sharpServicePrice: number;
  peakElecPrice: number;
  peakServicePrice: number;
  flatElecPrice: number;
  flatServicePrice: number;
  valleyElecPrice: number;
  valleyServicePrice: number;
  lossRatio: number;
  slots: number[];
}

/** The model in integer units: prices in 0.00001 yuan/kWh, index = level code. */
export interface TariffUnits {
  modelCode: string | number;
  elec: readonly number[];
  service: readonly number[];
  slots: readonly number[];
  lossRatio?: number;
}

/** A time range of the friendlier input: "HH:mm" on half hours, `to` may be "24:00"; from > to wraps midnight. */
export interface TariffPeriod {
  from: string;
  to: string;
  level: number | string;
}

/** A friendlier way to write a model: prices in yuan/kWh, slots and/or periods. */
export interface TariffInput {
  modelCode: string | number;
  /** Four entries, index = level code (sharp, peak, flat, valley); numbers or decimal strings in yuan/kWh. */
  levels: ReadonlyArray<{ elec: number | string; service: number | string }>;
  slots?: readonly number[];
  /** Applied in order over `slots` (if given); every slot must end up with a level. */
  periods?: readonly TariffPeriod[];
  lossRatio?: number;
}

export interface LevelSummary {
  code: LevelCode;
  name: LevelName;
  zh: string;
  /** Time ranges "HH:mm" in chronological order; `to` of the last slot is "24:00". */
  ranges: Array<{ from: string; to: string }>;
  elecPrice: string;
  servicePrice: string;
  unitPrice: string;
}

function tariffError(field: string, value: unknown, why: string): YkcError {
  let shown: string;
  try {
    shown = JSON.stringify(value) ?? String(value);
  } catch {
    shown = String(value);
  }
  return new YkcError('YKC_TARIFF', `tariff: ${field} ${why} (got ${shown})`, { field, value });
}

function priceUnits(field: string, v: unknown): number {
  if (typeof v !== 'number' && typeof v !== 'string') throw tariffError(field, v, 'must be a price in yuan/kWh');
  let units: number;
  try {
    units = toUnits(v, PRICE_DECIMALS, field);
  } catch {
    const n = typeof v === 'number' ? v : Number(v);
    if (!Number.isFinite(n)) throw tariffError(field, v, 'must be a price in yuan/kWh');
    throw tariffError(field, v, `has more than ${PRICE_DECIMALS} decimals (the wire carries 0.00001 yuan/kWh)`);
  }
  return checkPriceUnits(field, units, v);
}

function checkPriceUnits(field: string, units: unknown, shown: unknown = units): number {
  if (typeof units !== 'number' || !Number.isInteger(units)) throw tariffError(field, shown, 'must be an integer number of 0.00001 yuan/kWh');
  if (units < 0) throw tariffError(field, shown, 'must not be negative');
  if (units > MAX_U32) throw tariffError(field, shown, `is too large: at most ${formatUnits(MAX_U32, PRICE_DECIMALS)} yuan/kWh fits the 4-byte field`);
  return units;
}

function modelCodeOf(v: unknown): string {
  if (typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 9999) return String(v).padStart(4, '0');
  if (typeof v === 'string' && /^\d{1,4}$/.test(v)) return v.padStart(4, '0');
  throw tariffError('modelCode', v, 'must be 4 decimal digits (BCD 2), e.g. "0100"');
}

function lossRatioOf(v: unknown): number {
  if (v === undefined || v === null) return 0;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 255) {
    throw tariffError('lossRatio', v, 'must be an integer from 0 to 255 (one byte; 0 = no loss accounting)');
  }
  return v;
}

function slotsOf(v: unknown): LevelCode[] {
  if (!Array.isArray(v)) throw tariffError('slots', v, `must be an array of ${SLOT_COUNT} levels (0 sharp, 1 peak, 2 flat, 3 valley)`);
  if (v.length !== SLOT_COUNT) {
    throw tariffError('slots', `${v.length} entries`, `must have exactly ${SLOT_COUNT} entries, one per half hour from 00:00`);
  }
  return v.map((x, i) => {
    if (x !== 0 && x !== 1 && x !== 2 && x !== 3) {
      throw tariffError(`slots[${i}]`, x, `(${slotRange(i)}) must be a level 0 sharp, 1 peak, 2 flat or 3 valley`);
    }
    return x as LevelCode;
  });
}

function levelOf(field: string, v: unknown): LevelCode {
  if (v === 0 || v === 1 || v === 2 || v === 3) return v;
  if (typeof v === 'string') {
    const s = v.trim().toLowerCase();
    const byName = (LEVEL_NAMES as readonly string[]).indexOf(s);
    if (byName >= 0) return byName as LevelCode;
    const byZh = (LEVEL_ZH as readonly string[]).indexOf(v.trim());
    if (byZh >= 0) return byZh as LevelCode;
    if (/^[0-3]$/.test(s)) return Number(s) as LevelCode;
  }
  throw tariffError(field, v, 'must be a level: 0/sharp/尖, 1/peak/峰, 2/flat/平 or 3/valley/谷');
}

function hhmm(minutes: number): string {
  return `${String(Math.floor(minutes / 60)).padStart(2, '0')}:${String(minutes % 60).padStart(2, '0')}`;
}

function slotRange(i: number): string {
  return `${hhmm(i * SLOT_MINUTES)}–${hhmm((i + 1) * SLOT_MINUTES)}`;
}

function parseHalfHour(field: string, v: unknown, allow24: boolean): number {
  const m = typeof v === 'string' ? /^(\d{1,2}):(\d{2})$/.exec(v.trim()) : null;
  const minutes = m ? Number(m[1]) * 60 + Number(m[2]) : NaN;
  if (!m || Number(m[2]) >= 60 || minutes > MINUTES_PER_DAY || (!allow24 && minutes === MINUTES_PER_DAY)) {
    throw tariffError(field, v, `must be a time "HH:mm" from 00:00 to ${allow24 ? '24:00' : '23:30'}`);
  }
  if (minutes % SLOT_MINUTES !== 0) throw tariffError(field, v, 'must fall on a half hour (the model has 48 half-hour slots)');
  return minutes / SLOT_MINUTES;
}

export class Tariff {
  /** 4 decimal digits. */
  readonly modelCode: string;
  /** Electricity rates, 0.00001 yuan/kWh, index = level code. */
  readonly elec: readonly number[];
  /** Service-fee rates, 0.00001 yuan/kWh, index = level code. */
  readonly service: readonly number[];
  readonly slots: readonly LevelCode[];
  readonly lossRatio: number;

  /** From integer units; validates everything (YKC_TARIFF). */
  constructor(spec: TariffUnits) {
    if (!spec || typeof spec !== 'object') throw tariffError('tariff', spec, 'must be an object');
    this.modelCode = modelCodeOf(spec.modelCode);
    const rates = (key: 'elec' | 'service', suffix: string): number[] => {
      const a = spec[key];
      if (!Array.isArray(a) || a.length !== 4) throw tariffError(key, a, 'must list 4 prices (sharp, peak, flat, valley) in 0.00001 yuan/kWh');
      return a.map((u, i) => checkPriceUnits(`${LEVEL_NAMES[i]}${suffix}`, u));
    };
    this.elec = Object.freeze(rates('elec', 'ElecPrice'));
    this.service = Object.freeze(rates('service', 'ServicePrice'));
    for (let i = 0; i < 4; i++) {
      if (this.elec[i] + this.service[i] > MAX_U32) {
        throw tariffError(
          `${LEVEL_NAMES[i]}ElecPrice + ${LEVEL_NAMES[i]}ServicePrice`,
          formatUnits(this.elec[i] + this.service[i], PRICE_DECIMALS),
          `is too large: the record's 4-byte unit price holds at most ${formatUnits(MAX_U32, PRICE_DECIMALS)} yuan/kWh`,
        );
      }
    }
    this.slots = Object.freeze(slotsOf(spec.slots));
    this.lossRatio = lossRatioOf(spec.lossRatio);
    Object.freeze(this);
  }

  /** From the decoded 0x0A / 0x58 body (`msg.payload` of a decoded frame, or `msg.tariff`). */
  static fromBody(body: Partial<TariffBody> | Record<string, unknown>): Tariff {
    if (!body || typeof body !== 'object') throw tariffError('tariff', body, 'must be an object in the shape of the decoded 0x58 body');
    const b = body as Record<string, unknown>;
    const elec = LEVEL_NAMES.map((l) => priceUnits(`${l}ElecPrice`, b[`${l}ElecPrice`]));
    const service = LEVEL_NAMES.map((l) => priceUnits(`${l}ServicePrice`, b[`${l}ServicePrice`]));
    return new Tariff({ modelCode: b.modelCode as string, elec, service, slots: b.slots as number[], lossRatio: b.lossRatio as number });
  }

  /** From the friendlier shape: `{ modelCode, levels: [{ elec, service }] × 4, slots?, periods?, lossRatio? }`. */
  static fromInput(input: TariffInput): Tariff {
    if (!input || typeof input !== 'object') throw tariffError('tariff', input, 'must be an object');
    const levels = input.levels;
    if (!Array.isArray(levels) || levels.length !== 4) {
      throw tariffError('levels', levels, 'must list 4 levels (sharp, peak, flat, valley), each { elec, service } in yuan/kWh');
    }
    const elec: number[] = [];
    const service: number[] = [];
    levels.forEach((lv, i) => {
      if (!lv || typeof lv !== 'object') throw tariffError(`levels[${i}]`, lv, 'must be { elec, service } in yuan/kWh');
      elec.push(priceUnits(`levels[${i}].elec (${LEVEL_NAMES[i]})`, lv.elec));
      service.push(priceUnits(`levels[${i}].service (${LEVEL_NAMES[i]})`, lv.service));
    });
    let slots: Array<number | undefined>;
    if (input.slots !== undefined) slots = slotsOf(input.slots);
    else slots = new Array<number | undefined>(SLOT_COUNT).fill(undefined);
    if (input.periods !== undefined) {
      if (!Array.isArray(input.periods)) throw tariffError('periods', input.periods, 'must be an array of { from, to, level }');
      input.periods.forEach((p, i) => {
        if (!p || typeof p !== 'object') throw tariffError(`periods[${i}]`, p, 'must be { from: "HH:mm", to: "HH:mm", level }');
        const from = parseHalfHour(`periods[${i}].from`, p.from, false);
        const to = parseHalfHour(`periods[${i}].to`, p.to, true);
        const level = levelOf(`periods[${i}].level`, p.level);
        if (from === to) throw tariffError(`periods[${i}]`, p, 'is empty (from equals to)');
        for (let k = from; k !== to; k = (k + 1) % SLOT_COUNT) {
          slots[k] = level;
          if (to === SLOT_COUNT && k === SLOT_COUNT - 1) break;
        }
      });
    }
    const missing = slots.map((s, i) => (s === undefined ? i : -1)).filter((i) => i >= 0);
    if (missing.length) {
      throw tariffError('slots', missing.map(slotRange).join(', '), 'leave half hours without a level; give slots or periods covering the whole day');
    }
    return new Tariff({ modelCode: input.modelCode, elec, service, slots: slots as number[], lossRatio: input.lossRatio });
  }

  /** Whatever a flow hands us: a Tariff, a decoded 0x58 body, the friendlier input, or the units spec. */
  static from(v: unknown): Tariff {
    if (v instanceof Tariff) return v;
    if (v && typeof v === 'object') {
      const o = v as Record<string, unknown>;
      if ('sharpElecPrice' in o) return Tariff.fromBody(o);
      if ('levels' in o) return Tariff.fromInput(o as unknown as TariffInput);
      if ('elec' in o && 'service' in o) return new Tariff(o as unknown as TariffUnits);
    }
    throw tariffError('tariff', v, 'must be a decoded 0x58 body { modelCode, sharpElecPrice, …, slots }, or { modelCode, levels, slots | periods }');
  }

  /** The 0x0A / 0x58 body, ready for encodeFrame; `pileNo` is included when given. */
  toBody(pileNo?: string): TariffBody {
    const body: Partial<TariffBody> = {};
    if (pileNo !== undefined) body.pileNo = pileNo;
    body.modelCode = this.modelCode;
    const out = body as unknown as Record<string, unknown>;
    LEVEL_NAMES.forEach((l, i) => {
      out[`${l}ElecPrice`] = fromUnits(this.elec[i], PRICE_DECIMALS);
      out[`${l}ServicePrice`] = fromUnits(this.service[i], PRICE_DECIMALS);
    });
    body.lossRatio = this.lossRatio;
    body.slots = [...this.slots];
    return body as TariffBody;
  }

  toJSON(): TariffBody {
    return this.toBody();
  }

  /** Electricity + service rate of a level, 0.00001 yuan/kWh (the record's "unit price"). */
  unitPrice(level: number): number {
    const l = this.checkLevel(level);
    return this.elec[l] + this.service[l];
  }

  elecPrice(level: number): number {
    return this.elec[this.checkLevel(level)];
  }

  servicePrice(level: number): number {
    return this.service[this.checkLevel(level)];
  }

  /** Level of the half-hour slot holding `minuteOfDay` (0 ≤ m < 1440, fractions allowed). */
  levelAt(minuteOfDay: number): LevelCode {
    if (typeof minuteOfDay !== 'number' || !Number.isFinite(minuteOfDay) || minuteOfDay < 0 || minuteOfDay >= MINUTES_PER_DAY) {
      throw new YkcError('YKC_INPUT', `minuteOfDay must be a number from 0 to below 1440 (got ${String(minuteOfDay)})`, { value: minuteOfDay });
    }
    return this.slots[Math.floor(minuteOfDay / SLOT_MINUTES)];
  }

  /** Levels that some slot points at. */
  usedLevels(): LevelCode[] {
    return ([0, 1, 2, 3] as LevelCode[]).filter((l) => this.slots.includes(l));
  }

  /** Per level: time ranges and prices as fixed 5-decimal strings. */
  levelSummaries(): LevelSummary[] {
    return ([0, 1, 2, 3] as LevelCode[]).map((code) => {
      const ranges: Array<{ from: string; to: string }> = [];
      for (let k = 0; k < SLOT_COUNT; k++) {
        if (this.slots[k] !== code) continue;
        const from = hhmm(k * SLOT_MINUTES);
        while (k + 1 < SLOT_COUNT && this.slots[k + 1] === code) k++;
        ranges.push({ from, to: hhmm((k + 1) * SLOT_MINUTES) });
      }
      return {
        code,
        name: LEVEL_NAMES[code],
        zh: LEVEL_ZH[code],
        ranges,
        elecPrice: formatUnits(this.elec[code], PRICE_DECIMALS),
        servicePrice: formatUnits(this.service[code], PRICE_DECIMALS),
        unitPrice: formatUnits(this.elec[code] + this.service[code], PRICE_DECIMALS),
      };
    });
  }

  /**
   * Readable lines, one per level plus a heading, e.g. (en)
   * "峰 peak 08:00–11:00, 18:00–21:00: 1.20000 + 0.80000 yuan/kWh (2.00000)" or (zh)
   * "峰 08:00–11:00、18:00–21:00：电费 1.20000 + 服务费 0.80000 元/kWh（合计 2.00000）".
   */
  summary(lang: 'en' | 'zh' = 'en'): string[] {
    const lines: string[] = [];
    if (lang === 'zh') {
      lines.push(`计费模型 ${this.modelCode}，计损比例 ${this.lossRatio}`);
      for (const s of this.levelSummaries()) {
        const when = s.ranges.length ? s.ranges.map((r) => `${r.from}–${r.to}`).join('、') : '未使用';
        lines.push(`${s.zh} ${when}：电费 ${s.elecPrice} + 服务费 ${s.servicePrice} 元/kWh（合计 ${s.unitPrice}）`);
      }
    } else {
      lines.push(`model ${this.modelCode}, loss ratio ${this.lossRatio}`);
      for (const s of this.levelSummaries()) {
        const when = s.ranges.length ? s.ranges.map((r) => `${r.from}–${r.to}`).join(', ') : 'not used';
        lines.push(`${s.zh} ${s.name} ${when}: ${s.elecPrice} + ${s.servicePrice} yuan/kWh (${s.unitPrice})`);
      }
    }
    return lines;
  }

  toString(): string {
    return this.summary('en').join('\n');
  }

  /** Same model code, prices, slots and loss ratio. */
  equals(other: Tariff | null | undefined): boolean {
    if (!other) return false;
    if (other === this) return true;
    if (other.modelCode !== this.modelCode || other.lossRatio !== this.lossRatio) return false;
    for (let i = 0; i < 4; i++) if (other.elec[i] !== this.elec[i] || other.service[i] !== this.service[i]) return false;
    for (let k = 0; k < SLOT_COUNT; k++) if (other.slots[k] !== this.slots[k]) return false;
    return true;
  }

  private checkLevel(level: number): LevelCode {
    if (level !== 0 && level !== 1 && level !== 2 && level !== 3) {
      throw new YkcError('YKC_INPUT', `level must be 0 sharp, 1 peak, 2 flat or 3 valley (got ${String(level)})`, { value: level });
    }
    return level;
  }
}
