import 'should';
import { amountUnits, formatUnits, fromUnits, toUnits } from '../../src/billing/fees';
import { rng } from './helpers';

/** Independent reference: decimal strings and BigInt only. */
function refAmount(price: number, energy: number): number {
  const p = BigInt(price) * BigInt(energy);
  return Number(p / 100000n);
}

describe('billing/fees', () => {
  describe('amountUnits', () => {
    it('truncates as the real record does: 0.89000 × 3.0067 kWh = 2.6759 yuan', () => {
      amountUnits(89000, 30067).should.equal(26759);
    });
    it('is exact at multiples of the divisor and just below them', () => {
      amountUnits(100000, 10000).should.equal(10000); // 1 yuan/kWh × 1 kWh
      amountUnits(100000, 9999).should.equal(9999);
      amountUnits(99999, 10000).should.equal(9999); // 0.99999 yuan exactly → 0.9999
      amountUnits(1, 99999).should.equal(0);
      amountUnits(1, 100000).should.equal(1);
      amountUnits(0, 123456).should.equal(0);
    });
    it('is exact for the largest 32-bit inputs (product beyond 2^53)', () => {
      const m = 0xffffffff;
      amountUnits(m, m).should.equal(refAmount(m, m));
      amountUnits(m, m).should.equal(184467440651196); // 18446744065119617025 / 1e5
    });
    it('truncates toward zero for negative inputs', () => {
      amountUnits(-89000, 30067).should.equal(-26759);
      amountUnits(89000, -30067).should.equal(-26759);
      Object.is(amountUnits(-1, 5), 0).should.be.true();
    });
    it('matches a BigInt reference on 20 000 seeded random 32-bit pairs, including near the 2^52 switch', function () {
      this.timeout(30_000); // well under 1 s normally
      const r = rng(20240606);
      for (let i = 0; i < 20000; i++) {
        const bits = 1 + Math.floor(r() * 32);
        const p = Math.floor(r() * 2 ** bits);
        const e = Math.floor(r() * 2 ** 32);
        const got = amountUnits(p, e);
        if (got !== refAmount(p, e)) throw new Error(`amountUnits(${p}, ${e}) = ${got}, expected ${refAmount(p, e)}`);
      }
      // products straddling 2^52 and 2^53 with remainders near 0 and near the divisor
      for (const e of [2 ** 26, 2 ** 26 + 1, 2 ** 27 - 1]) {
        for (const p of [2 ** 26 - 1, 2 ** 26, 2 ** 26 + 3, 100000 * 2 ** 20, 100000 * 2 ** 20 - 1]) {
          amountUnits(p, e).should.equal(refAmount(p, e));
        }
      }
    });
    it('refuses non-integers with YKC_INPUT', () => {
      (() => amountUnits(0.5, 1)).should.throw({ code: 'YKC_INPUT' });
      (() => amountUnits(1, NaN)).should.throw({ code: 'YKC_INPUT' });
      (() => amountUnits(1, '2' as unknown as number)).should.throw({ code: 'YKC_INPUT' });
    });
  });

  describe('toUnits / fromUnits / formatUnits', () => {
    it('converts decoded numbers exactly', () => {
      toUnits(0.89, 5).should.equal(89000);
      toUnits(3.0067, 4).should.equal(30067);
      toUnits(2.6759, 4).should.equal(26759);
      toUnits(1.2, 5).should.equal(120000);
      // 0.1 + 0.2 is not the double nearest 0.3: it has more than 1 decimal, and the check sees that
      (() => toUnits(0.1 + 0.2, 1)).should.throw({ code: 'YKC_INPUT' });
      toUnits(0.3, 1).should.equal(3);
    });
    it('round-trips every unit count a 4-byte field can carry (sampled)', function () {
      this.timeout(30_000); // well under 1 s normally
      const r = rng(7);
      for (let i = 0; i < 20000; i++) {
        const u = Math.floor(r() * 2 ** 32);
        for (const d of [4, 5]) {
          const v = fromUnits(u, d);
          if (toUnits(v, d) !== u) throw new Error(`toUnits(fromUnits(${u}, ${d})) = ${toUnits(v, d)}`);
          const s = formatUnits(u, d);
          if (toUnits(s, d) !== u || Number(s) !== v) throw new Error(`formatUnits(${u}, ${d}) = ${s}`);
        }
      }
      // 5-byte meter readings
      for (let i = 0; i < 2000; i++) {
        const u = Math.floor(r() * 2 ** 40);
        if (toUnits(fromUnits(u, 4), 4) !== u) throw new Error(`5-byte ${u}`);
      }
    });
    it('refuses more decimals than allowed, naming the field', () => {
      (() => toUnits(1.234567, 5, 'peakElecPrice')).should.throw({ code: 'YKC_INPUT', message: /peakElecPrice has more than 5 decimals/ });
      (() => toUnits(3.00671, 4)).should.throw({ code: 'YKC_INPUT' });
      (() => toUnits('1.000001', 5)).should.throw({ code: 'YKC_INPUT' });
      (() => toUnits(Infinity, 4)).should.throw({ code: 'YKC_INPUT' });
      (() => toUnits('abc', 4)).should.throw({ code: 'YKC_INPUT' });
      (() => toUnits(1, 12)).should.throw({ code: 'YKC_INPUT' });
    });
    it('reads decimal strings exactly', () => {
      toUnits('1.20000', 5).should.equal(120000);
      toUnits('  7 ', 4).should.equal(70000);
      toUnits('-0.5', 1).should.equal(-5);
      toUnits('0.10', 1).should.equal(1);
    });
    it('formats with exactly the given decimals', () => {
      formatUnits(26759, 4).should.equal('2.6759');
      formatUnits(5, 5).should.equal('0.00005');
      formatUnits(-120000, 5).should.equal('-1.20000');
      formatUnits(42, 0).should.equal('42');
    });
  });
});
