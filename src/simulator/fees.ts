/**
 * Fee arithmetic used by the virtual pile. Interim: src/billing (owned by the billing work) will
 * provide amountUnits(); this module then re-exports it so the pile and the platform can never
 * disagree on a rounding rule.
 *
 * amount (0.0001 yuan) = price (0.00001 yuan/kWh) × energy (0.0001 kWh) / 10^5, truncated —
 * the rule real 0x3B records follow (PROTOCOL.md §7: 0.89 × 3.0067 = 2.675963 → 2.6759).
 */
export function amountUnits(priceUnits: number, energyUnits: number): number {
  const p = priceUnits * energyUnits;
  if (Number.isSafeInteger(p)) return (p - (p % 100_000)) / 100_000;
  return Number((BigInt(priceUnits) * BigInt(energyUnits)) / 100_000n);
}
