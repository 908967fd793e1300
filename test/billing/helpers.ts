/** Shared test helpers for the billing specs. */
import { Tariff, TariffBody, TariffInput } from '../../src/billing/tariff';

/** Small deterministic PRNG (mulberry32) so failures can be reproduced from the seed. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A plausible Shenzhen-style model: valley 00:00–08:00, peak 08:00–11:00 and 18:00–21:00, sharp 11:00–12:00, flat elsewhere, valley from 23:00. */
export function sampleTariffBody(): TariffBody {
  const slots: number[] = [];
  for (let k = 0; k < 48; k++) {
    const h = k / 2;
    slots.push(h < 8 || h >= 23 ? 3 : (h >= 8 && h < 11) || (h >= 18 && h < 21) ? 1 : h >= 11 && h < 12 ? 0 : 2);
  }
  return {
    pileNo: '32010200000001',
    modelCode: '0100',
    sharpElecPrice: 1.5,
    sharpServicePrice: 0.8,
    peakElecPrice: 1.2,
    peakServicePrice: 0.8,
    flatElecPrice: 0.7,
    flatServicePrice: 0.6,
    valleyElecPrice: 0.33333,
    valleyServicePrice: 0.4,
    lossRatio: 0,
    slots,
  };
}

/** The real lambda record's tariff: sharp/peak/flat 2.00000, valley 0.89000 (split 0.50000 + 0.39000), valley 22:00–08:00. */
export function lambdaTariff(): Tariff {
  return Tariff.fromInput({
    modelCode: '0062',
    levels: [
      { elec: 1.2, service: 0.8 },
      { elec: 1.2, service: 0.8 },
      { elec: 1.2, service: 0.8 },
      { elec: 0.5, service: 0.39 },
    ],
    periods: [
      { from: '08:00', to: '22:00', level: 'flat' },
      { from: '22:00', to: '08:00', level: 'valley' },
    ],
  });
}

/** The captured pile's (test vector 0x3B) four levels in yuan/kWh, with a chosen valley electricity price (service 0.39 in the valley). */
export function capturedLevels(valleyElec: number): TariffInput['levels'] {
  return [
    { elec: 1.2, service: 0.8 },
    { elec: 1.2, service: 0.8 },
    { elec: 1.2, service: 0.8 },
    { elec: valleyElec, service: 0.39 },
  ];
}

/** The captured pile's model in the friendlier input shape (ykc-tariff's too): flat 08:00–22:00, valley 22:00–08:00. */
export function capturedModel(valleyElec: number, code: string): TariffInput {
  return {
    modelCode: code,
    levels: capturedLevels(valleyElec),
    periods: [
      { from: '08:00', to: '22:00', level: 'flat' },
      { from: '22:00', to: '08:00', level: 'valley' },
    ],
  };
}
