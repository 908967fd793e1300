/**
 * Billing throughput, one core: amountUnits (32-bit fast path and the BigInt path), billLevels,
 * auditRecord on the real 0x3B record, and splitMeterCurve for a 24 h session sampled every 15 s
 * (5 761 samples, 48 slots). Prints one line per figure.
 *
 *   npx tsc -p tsconfig.json && node dist/bench/billing.js [--ms 1000]
 */
import { decodeFrame } from '../src/protocol';
import { amountUnits, auditRecord, billLevels, MeterSample, splitMeterCurve, toEpochMs } from '../src/billing';
import { lambdaTariff } from '../test/billing/helpers';

const REAL_3B =
  '68A28001003B18220000000155021673797553635328182200000001550208CF1C16170A19D0841517170A19400D0300000000000000000000000000400D0300000000000000000000000000400D0300000000000000000000000000A85B01007375000000000000876800000A000000007D75000000737500000000000087680000000000000000000000000000000000000001D0841517170A19450000000000000000A5B3';

function rate(fn: () => void, ms: number, batch = 1000): number {
  for (let i = 0; i < batch * 5; i++) fn();
  const limit = BigInt(Math.round(ms * 1e6));
  const t0 = process.hrtime.bigint();
  let n = 0;
  let elapsed = 0n;
  do {
    for (let i = 0; i < batch; i++) fn();
    n += batch;
    elapsed = process.hrtime.bigint() - t0;
  } while (elapsed < limit);
  return (n * 1e9) / Number(elapsed);
}

export function runBillingBench(ms: number, print: (line: string) => void = () => {}): Record<string, number> {
  const fmt = (x: number): string => Math.round(x).toLocaleString('en-US').padStart(12);
  const tariff = lambdaTariff();
  let sink = 0;
  let p = 89000;
  const figures: Record<string, number> = {};
  figures['amountUnits 32-bit /s'] = rate(() => {
    p = (p * 1103515245 + 12345) % 2147483648;
    sink ^= amountUnits(p & 0xfffff, 30067);
  }, ms, 10_000);
  figures['amountUnits BigInt path /s'] = rate(() => {
    sink ^= amountUnits(0xfffffff0, 0xffffff00);
  }, ms, 10_000);
  figures['billLevels /s'] = rate(() => {
    sink ^= billLevels(tariff, [0, 1234, 5678, 30067]).totalAmount;
  }, ms);
  const record = decodeFrame(REAL_3B).body;
  figures['auditRecord (real 0x3B) /s'] = rate(() => {
    sink ^= auditRecord(record, tariff).mismatches.length;
  }, ms);
  const t0 = toEpochMs('2025-10-23 08:10:07');
  const curve: MeterSample[] = [];
  for (let i = 0; i <= 24 * 240; i++) curve.push({ time: t0 + i * 15_000, meterUnits: 1_000_000 + Math.floor(i * 291.7) });
  figures['splitMeterCurve 24 h @15 s /s'] = rate(() => {
    sink ^= splitMeterCurve(tariff, curve).slots.length;
  }, ms, 10);
  for (const [k, v] of Object.entries(figures)) print(`${k.padEnd(32)}${fmt(v)}`);
  if (sink === 0.5) print(''); // keep the work observable
  return figures;
}

if (require.main === module) {
  const i = process.argv.indexOf('--ms');
  const ms = i > 0 ? Number(process.argv[i + 1]) : 1000;
  runBillingBench(ms, (l) => console.log(l));
}
