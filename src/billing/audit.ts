/**
 * Bill audit: recompute a pile's transaction record (0x3B, its 5-tier variant, or 1.7's 0x3D)
 * from the tariff and report every figure that differs, plus facts that do not fit together.
 *
 * What "computed" means per field:
 *   <level>Price       the tariff's electricity + service rate for that level;
 *   <level>Amount      tariff unit price × the record's energy for that level (its loss-adjusted
 *                      energy when the loss ratio is non-zero), truncated to 0.0001 yuan;
 *   <level>LossEnergy  with loss ratio 0: the record may carry 0 or the energy; anything else is
 *                      reported with the energy as the computed value;
 *   totalEnergy, totalLossEnergy   the sums of the record's level figures;
 *   totalAmount        the sum of the computed level amounts (so a wrong level amount is reported
 *                      at that level, and a total that merely adds up wrong figures is reported too).
 */
import { YkcError } from '../protocol/errors';
import { stopReasonClass } from '../protocol/enums';
import { amountUnits, AMOUNT_DECIMALS, ENERGY_DECIMALS, fromUnits, PRICE_DECIMALS, toUnits, formatUnits } from './fees';
import { LevelCode, LEVEL_NAMES, LEVEL_ZH, SLOT_COUNT, SLOT_MINUTES, Tariff } from './tariff';
import { Bill, billLevels, BillNumbers, billToNumbers, TimeOptions, toEpochMs } from './compute';
import { CHINA_OFFSET_MINUTES } from '../protocol/cp56';

export interface AuditMismatch {
  /** Record field name, e.g. "valleyAmount". */
  field: string;
  /** The value the pile sent, in the record's units (yuan/kWh, kWh, yuan). */
  pile: number;
  /** The value we computed, same units. */
  computed: number;
}

export type InconsistencyCheck =
  | 'meter'
  | 'meterMissing'
  | 'timeMissing'
  | 'timeOrder'
  | 'tradeTime'
  | 'futureTime'
  | 'duration'
  | 'power'
  | 'stopReason'
  | 'levelOutsideSession'
  | 'lossEnergy'
  | 'extraLevel';

export interface AuditInconsistency {
  check: InconsistencyCheck;
  /** English explanation with the figures involved. */
  detail: string;
  /** 'error': the bill cannot be right as it stands; 'warning': unusual, worth a look. */
  severity: 'error' | 'warning';
}

/** Which tariff an audit judged the record against, and where it came from. */
export interface AuditTariff {
  modelCode: string;
  /** When the pile took it (gateway clock, epoch ms), when known (a tariff from the pile's history). */
  since: number | null;
  /** Where the caller got it: ykc-billing says 'msg', 'node', 'history' or 'server'; 'given' when not told. */
  source: string;
  /** How the pile took it: '0x58' push, '0x0A' answer to its request, '0x05' check "same". */
  via?: string;
  /** The session start the tariff was looked up at (epoch ms) and how it was found. */
  sessionStart?: number;
  sessionStartBasis?: 'firstFrame' | 'startTime';
}

export interface AuditResult {
  /** No mismatches and no error-severity inconsistencies. */
  ok: boolean;
  mismatches: AuditMismatch[];
  inconsistencies: AuditInconsistency[];
  /** The tariff used (its model code) and its provenance (AuditOptions.tariffInfo). */
  tariff: AuditTariff;
}

export interface AuditOptions extends TimeOptions {
  /** Sessions longer than this are reported (warning). Default 24. */
  maxSessionHours?: number;
  /** Average power above this is reported (warning). Default 1000 kW. */
  maxPowerKw?: number;
  /** Allowed |meterEnd − meterStart − totalEnergy| in 0.0001 kWh. Default 0. */
  meterToleranceUnits?: number;
  /**
   * Up to this difference (0.0001 kWh) the meter is reported as a warning, beyond it as an error.
   * Default 100 (0.01 kWh): real piles read their meter at 0.01 kWh and differ by a few units.
   */
  meterWarningUnits?: number;
  /** Pile clock slack when checking which levels a session could touch. Default 5 minutes. */
  clockToleranceMinutes?: number;
  /** When given, times more than 10 minutes after it are reported. */
  now?: number | string | Date;
  /** Provenance of the tariff, copied into AuditResult.tariff (the model code comes from the tariff itself). */
  tariffInfo?: Omit<Partial<AuditTariff>, 'modelCode'>;
}

const BASE_LEVELS = LEVEL_NAMES;
const SLOT_MS = SLOT_MINUTES * 60_000;
const FUTURE_SLACK_MS = 10 * 60_000;

interface RecordLevel {
  name: string;
  code: LevelCode | 4;
  price: number;
  energy: number;
  lossEnergy: number;
  amount: number;
}

/** A record's fee figures in integer units. */
export interface RecordUnits {
  levels: RecordLevel[];
  meterStart: number;
  meterEnd: number;
  totalEnergy: number;
  totalLossEnergy: number;
  totalAmount: number;
}

function num(record: Record<string, unknown>, field: string, decimals: number): number {
  const v = record[field];
  if (typeof v !== 'number' && typeof v !== 'string') {
    throw new YkcError('YKC_INPUT', `record field ${field} is missing or not a number (got ${JSON.stringify(v)})`, { field, value: v });
  }
  const u = toUnits(v, decimals, `record field ${field}`);
  if (u < 0) throw new YkcError('YKC_INPUT', `record field ${field} must not be negative (got ${String(v)})`, { field, value: v });
  return u;
}

/** Reads the fee fields of a decoded 0x3B / 5-tier 0x3B / 0x3D body into integer units (YKC_INPUT when one is missing or malformed). */
export function recordUnits(record: Record<string, unknown>): RecordUnits {
  if (!record || typeof record !== 'object') throw new YkcError('YKC_INPUT', 'record must be the decoded body of a 0x3B / 0x3D / 0x3F / 0x39 frame', { value: record });
  const names: string[] = [...BASE_LEVELS];
  if (record.deepValleyPrice !== undefined) names.push('deepValley');
  const levels = names.map((name, i) => ({
    name,
    code: i as LevelCode | 4,
    price: num(record, `${name}Price`, PRICE_DECIMALS),
    energy: num(record, `${name}Energy`, ENERGY_DECIMALS),
    lossEnergy: num(record, `${name}LossEnergy`, ENERGY_DECIMALS),
    amount: num(record, `${name}Amount`, AMOUNT_DECIMALS),
  }));
  return {
    levels,
    meterStart: num(record, 'meterStart', ENERGY_DECIMALS),
    meterEnd: num(record, 'meterEnd', ENERGY_DECIMALS),
    totalEnergy: num(record, 'totalEnergy', ENERGY_DECIMALS),
    totalLossEnergy: num(record, 'totalLossEnergy', ENERGY_DECIMALS),
    totalAmount: num(record, 'totalAmount', AMOUNT_DECIMALS),
  };
}

function timeOf(v: unknown, opts: TimeOptions): number | null {
  if (typeof v !== 'string' && typeof v !== 'number' && !(v instanceof Date)) return null;
  if (typeof v === 'string' && v.startsWith('cp56:')) return null;
  try {
    return toEpochMs(v, opts);
  } catch {
    return null;
  }
}

const kWh = (u: number) => formatUnits(u, ENERGY_DECIMALS) + ' kWh';
const yuan = (u: number) => formatUnits(u, AMOUNT_DECIMALS) + ' yuan';

function hours(ms: number): string {
  return (ms / 3_600_000).toFixed(2) + ' h';
}

/** Levels in force at any moment of [from, to] (epoch ms). */
function levelsDuring(tariff: Tariff, from: number, to: number, offsetMs: number): Set<number> {
  const out = new Set<number>();
  const first = Math.floor((from + offsetMs) / SLOT_MS);
  const last = Math.floor((to + offsetMs) / SLOT_MS);
  for (let k = first; k <= last && k - first < SLOT_COUNT; k++) out.add(tariff.slots[((k % SLOT_COUNT) + SLOT_COUNT) % SLOT_COUNT]);
  return out;
}

/**
 * Audits a decoded transaction record against a tariff. Throws YKC_INPUT only when the record lacks
 * a fee field; everything else is reported in the result.
 */
export function auditRecord(record: Record<string, unknown>, tariffInput: Tariff | Record<string, unknown>, opts: AuditOptions = {}): AuditResult {
  const tariff = Tariff.from(tariffInput);
  const r = recordUnits(record);
  const mismatches: AuditMismatch[] = [];
  const inconsistencies: AuditInconsistency[] = [];
  const mismatch = (field: string, pile: number, computed: number, decimals: number): void => {
    if (pile !== computed) mismatches.push({ field, pile: fromUnits(pile, decimals), computed: fromUnits(computed, decimals) });
  };
  const note = (check: InconsistencyCheck, severity: 'error' | 'warning', detail: string): void => {
    inconsistencies.push({ check, severity, detail });
  };

  let computedTotalAmount = 0;
  for (const l of r.levels) {
    const inTariff = l.code !== 4;
    const unit = inTariff ? tariff.unitPrice(l.code) : l.price;
    if (inTariff) mismatch(`${l.name}Price`, l.price, unit, PRICE_DECIMALS);
    if (tariff.lossRatio === 0) {
      if (l.lossEnergy !== 0 && l.lossEnergy !== l.energy) mismatch(`${l.name}LossEnergy`, l.lossEnergy, l.energy, ENERGY_DECIMALS);
    } else if (l.lossEnergy < l.energy) {
      note('lossEnergy', 'warning', `${l.name}LossEnergy ${kWh(l.lossEnergy)} is below ${l.name}Energy ${kWh(l.energy)} although the loss ratio is ${tariff.lossRatio}`);
    }
    const base = tariff.lossRatio > 0 ? l.lossEnergy : l.energy;
    const amount = amountUnits(unit, base);
    mismatch(`${l.name}Amount`, l.amount, amount, AMOUNT_DECIMALS);
    computedTotalAmount += amount;
    if (!inTariff && (l.energy > 0 || l.amount > 0)) {
      note(
        'extraLevel',
        'warning',
        `the record has a 5th (deep valley 深谷) level with ${kWh(l.energy)} and ${yuan(l.amount)} that the 4-level tariff does not define; its price ${formatUnits(l.price, PRICE_DECIMALS)} yuan/kWh was taken from the record`,
      );
    }
  }
  const sum = (k: 'energy' | 'lossEnergy') => r.levels.reduce((s, l) => s + l[k], 0);
  mismatch('totalEnergy', r.totalEnergy, sum('energy'), ENERGY_DECIMALS);
  mismatch('totalLossEnergy', r.totalLossEnergy, sum('lossEnergy'), ENERGY_DECIMALS);
  mismatch('totalAmount', r.totalAmount, computedTotalAmount, AMOUNT_DECIMALS);

  // Meter readings against the energy.
  const tol = opts.meterToleranceUnits ?? 0;
  if (r.meterStart === 0 && r.meterEnd === 0 && r.totalEnergy > 0) {
    note('meterMissing', 'warning', `both meter readings are 0 while totalEnergy is ${kWh(r.totalEnergy)}: the pile does not report its meter`);
  } else if (r.meterEnd < r.meterStart) {
    note('meter', 'error', `meterEnd ${kWh(r.meterEnd)} is below meterStart ${kWh(r.meterStart)}`);
  } else if (Math.abs(r.meterEnd - r.meterStart - r.totalEnergy) > tol) {
    note(
      'meter',
      Math.abs(r.meterEnd - r.meterStart - r.totalEnergy) <= (opts.meterWarningUnits ?? 100) ? 'warning' : 'error',
      `meterEnd − meterStart = ${kWh(r.meterEnd - r.meterStart)} but totalEnergy is ${kWh(r.totalEnergy)} (difference ${kWh(r.meterEnd - r.meterStart - r.totalEnergy)})`,
    );
  }

  // Times.
  const start = timeOf(record.startTime, opts);
  const end = timeOf(record.endTime, opts);
  const trade = timeOf(record.tradeTime, opts);
  const energyGiven = r.totalEnergy > 0 || r.levels.some((l) => l.energy > 0);
  if (energyGiven && (start === null || end === null)) {
    note('timeMissing', 'warning', `startTime ${JSON.stringify(record.startTime)} / endTime ${JSON.stringify(record.endTime)}: a session with energy needs valid start and end times`);
  }
  if (start !== null && end !== null) {
    if (end < start) {
      note('timeOrder', 'error', `endTime ${record.endTime} is before startTime ${record.startTime}`);
    } else {
      const maxH = opts.maxSessionHours ?? 24;
      if (end - start > maxH * 3_600_000) note('duration', 'warning', `the session lasted ${hours(end - start)}, longer than ${maxH} h`);
      const maxKw = opts.maxPowerKw ?? 1000;
      // kWh/h: energy units are 0.0001 kWh, so power (kW) = units / 10^4 / (ms / 3.6e6)
      if (r.totalEnergy > 0 && (end === start || (r.totalEnergy * 360) / (end - start) > maxKw)) {
        const kw = end === start ? 'unbounded' : `${((r.totalEnergy * 360) / (end - start)).toFixed(1)} kW`;
        note('power', 'warning', `${kWh(r.totalEnergy)} in ${hours(end - start)} means an average power of ${kw}, above ${maxKw} kW`);
      }
      const offsetMs = (opts.offsetMinutes ?? CHINA_OFFSET_MINUTES) * 60_000;
      const slack = (opts.clockToleranceMinutes ?? 5) * 60_000;
      const inForce = levelsDuring(tariff, start - slack, end + slack, offsetMs);
      for (const l of r.levels) {
        if (l.code === 4 || l.energy === 0 || inForce.has(l.code)) continue;
        note(
          'levelOutsideSession',
          'error',
          `${kWh(l.energy)} recorded at ${LEVEL_ZH[l.code]} ${l.name}, but the tariff has no ${l.name} half hour between ${record.startTime} and ${record.endTime}: the pile's tariff or clock differs`,
        );
      }
    }
  }
  if (trade !== null) {
    if (start !== null && trade < start) note('tradeTime', 'warning', `tradeTime ${record.tradeTime} is before startTime ${record.startTime}`);
    else if (end !== null && trade < end) note('tradeTime', 'warning', `tradeTime ${record.tradeTime} is before endTime ${record.endTime}`);
  }
  if (opts.now !== undefined) {
    const now = toEpochMs(opts.now, opts, 'now');
    for (const [field, t] of [['startTime', start], ['endTime', end], ['tradeTime', trade]] as const) {
      if (t !== null && t > now + FUTURE_SLACK_MS) note('futureTime', 'warning', `${field} ${record[field]} is in the future`);
    }
  }

  // Stop reason.
  const reason = record.stopReason;
  if (typeof reason === 'number' && stopReasonClass(reason) === 'start failed' && energyGiven) {
    note(
      'stopReason',
      'error',
      `stop reason 0x${reason.toString(16).toUpperCase()} means the start failed, yet the record carries ${kWh(r.totalEnergy)}`,
    );
  }

  const info = opts.tariffInfo ?? {};
  const used: AuditTariff = { modelCode: tariff.modelCode, since: info.since ?? null, source: info.source ?? 'given' };
  if (info.via !== undefined) used.via = info.via;
  if (info.sessionStart !== undefined) used.sessionStart = info.sessionStart;
  if (info.sessionStartBasis !== undefined) used.sessionStartBasis = info.sessionStartBasis;
  return { ok: mismatches.length === 0 && !inconsistencies.some((i) => i.severity === 'error'), mismatches, inconsistencies, tariff: used };
}

export interface RecordBill {
  /** The bill of the record's level energies at the tariff, in integer units. */
  bill: Bill;
  /** The same bill as numbers (yuan/kWh, kWh, yuan). */
  numbers: BillNumbers;
  audit: AuditResult;
}

/**
 * Bills a record's level energies at the tariff (with the electricity/service split the record lacks)
 * and audits the record. A 5-tier record's deep-valley level is not in a 4-level tariff: it is left
 * out of the bill and reported by the audit.
 */
export function billRecord(record: Record<string, unknown>, tariffInput: Tariff | Record<string, unknown>, opts: AuditOptions = {}): RecordBill {
  const tariff = Tariff.from(tariffInput);
  const audit = auditRecord(record, tariff, opts);
  const r = recordUnits(record);
  const base = r.levels.filter((l) => l.code !== 4);
  const bill = billLevels(
    tariff,
    base.map((l) => l.energy),
    { lossEnergies: base.map((l) => l.lossEnergy) },
  );
  return { bill, numbers: billToNumbers(bill), audit };
}
