/**
 * Exact money arithmetic in the wire's integer units (docs/protocol.md §3.3, §7):
 *   prices  — 0.00001 yuan/kWh (5 decimals)
 *   energy  — 0.0001 kWh      (4 decimals)
 *   amounts — 0.0001 yuan     (4 decimals)
 * Decoded bodies carry these as numbers whose value is exactly `units / 10^decimals`;
 * `toUnits` takes them back to integers without ever letting a float touch the money.
 */
import { YkcError } from '../protocol/errors';

export const PRICE_DECIMALS = 5;
export const ENERGY_DECIMALS = 4;
export const AMOUNT_DECIMALS = 4;

/** price (1e-5 yuan/kWh) × energy (1e-4 kWh) is in 1e-9 yuan; an amount is in 1e-4 yuan. */
const AMOUNT_DIVISOR = 100_000;
const AMOUNT_DIVISOR_BIG = 100_000n;
/** Below this every product, quotient × divisor and remainder is an exact double. */
const FAST_LIMIT = 2 ** 52;

function requireInteger(name: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v)) {
    throw new YkcError('YKC_INPUT', `${name} must be an integer number of units (got ${String(v)})`, { field: name, value: v });
  }
  return v;
}

/**
 * Amount of `energyUnits` at `priceUnits`, in 0.0001 yuan, truncated toward zero as real records do:
 * 0.89000 yuan/kWh × 3.0067 kWh = 2.675963 → 2.6759 (amountUnits(89000, 30067) === 26759).
 * Exact for every safe-integer input whose result is a safe integer (all 32-bit inputs qualify).
 */
export function amountUnits(priceUnits: number, energyUnits: number): number {
  requireInteger('priceUnits', priceUnits);
  requireInteger('energyUnits', energyUnits);
  const product = priceUnits * energyUnits;
  if (Math.abs(product) < FAST_LIMIT) {
    // Float division may land a hair off near a multiple of the divisor; correct with exact integers
    // (q × divisor stays below 2^53 here, so the remainder is exact).
    let q = Math.trunc(product / AMOUNT_DIVISOR);
    const r = product - q * AMOUNT_DIVISOR;
    if (product >= 0) {
      if (r < 0) q -= 1;
      else if (r >= AMOUNT_DIVISOR) q += 1;
    } else {
      if (r > 0) q += 1;
      else if (r <= -AMOUNT_DIVISOR) q -= 1;
    }
    return q === 0 ? 0 : q; // no -0
  }
  // BigInt division truncates toward zero, which is the rounding we want.
  const big = (BigInt(priceUnits) * BigInt(energyUnits)) / AMOUNT_DIVISOR_BIG;
  const n = Number(big);
  if (!Number.isSafeInteger(n)) {
    throw new YkcError('YKC_INPUT', `amount of ${priceUnits} × ${energyUnits} units does not fit a safe integer`, {
      priceUnits,
      energyUnits,
    });
  }
  return n;
}

const POW10 = [1, 10, 100, 1_000, 10_000, 100_000, 1_000_000, 10_000_000, 100_000_000];

function pow10(decimals: number): number {
  const p = POW10[decimals];
  if (!Number.isInteger(decimals) || p === undefined) {
    throw new YkcError('YKC_INPUT', `decimals must be an integer from 0 to ${POW10.length - 1} (got ${decimals})`, { decimals });
  }
  return p;
}

const DECIMAL_RE = /^([+-]?)(\d+)(?:\.(\d*))?$/;

/**
 * `value` (a decoded number, or a decimal string such as "1.20000") as an integer count of
 * 10^-decimals units. Throws YKC_INPUT when the value has more decimals than that, is not
 * finite, or is too large to count exactly. For numbers the test is exact: the number must be the
 * double nearest to some decimal with at most `decimals` places, i.e. what a decoder or the
 * JavaScript parser produces for it, so 1.2 is accepted at 5 decimals and 1.234567 is not.
 */
export function toUnits(value: number | string, decimals: number, field = 'value'): number {
  const p = pow10(decimals);
  if (typeof value === 'string') return stringToUnits(value, decimals, field);
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new YkcError('YKC_INPUT', `${field} must be a finite number (got ${String(value)})`, { field, value });
  }
  const units = Math.round(value * p);
  if (!Number.isSafeInteger(units)) {
    throw new YkcError('YKC_INPUT', `${field} is too large to count in units of 10^-${decimals} (got ${value})`, { field, value });
  }
  if (units / p !== value) {
    throw new YkcError('YKC_INPUT', `${field} has more than ${decimals} decimal${decimals === 1 ? '' : 's'} (got ${value})`, {
      field,
      value,
      decimals,
    });
  }
  return units === 0 ? 0 : units;
}

function stringToUnits(s: string, decimals: number, field: string): number {
  const m = DECIMAL_RE.exec(s.trim());
  if (!m) throw new YkcError('YKC_INPUT', `${field} must be a decimal number (got ${JSON.stringify(s)})`, { field, value: s });
  const frac = (m[3] ?? '').replace(/0+$/, '');
  if (frac.length > decimals) {
    throw new YkcError('YKC_INPUT', `${field} has more than ${decimals} decimal${decimals === 1 ? '' : 's'} (got ${s})`, {
      field,
      value: s,
      decimals,
    });
  }
  const digits = BigInt(m[2] + frac.padEnd(decimals, '0'));
  const n = Number(m[1] === '-' ? -digits : digits);
  if (!Number.isSafeInteger(n)) {
    throw new YkcError('YKC_INPUT', `${field} is too large to count in units of 10^-${decimals} (got ${s})`, { field, value: s });
  }
  return n === 0 ? 0 : n;
}

/** The number a decoder would produce for `units` at `decimals`: exactly units / 10^decimals. */
export function fromUnits(units: number, decimals: number): number {
  requireInteger('units', units);
  return units / pow10(decimals);
}

/** `units` as a fixed-point decimal string with exactly `decimals` places: formatUnits(26759, 4) = "2.6759". */
export function formatUnits(units: number, decimals: number): string {
  requireInteger('units', units);
  pow10(decimals);
  const neg = units < 0;
  const digits = String(Math.abs(units)).padStart(decimals + 1, '0');
  const int = digits.slice(0, digits.length - decimals);
  const frac = digits.slice(digits.length - decimals);
  return (neg ? '-' : '') + (decimals ? `${int}.${frac}` : int);
}
