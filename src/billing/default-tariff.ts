import type { TariffBody } from './tariff';

/**
 * The tariff a new gateway answers 0x05 / 0x09 with until the site sets its own: `ykc serve`'s,
 * the demo's, and the one a new ykc-server node's dialog starts with (nodes/ykc-server.html repeats
 * it; a test keeps them equal). Piles refuse remote starts until they hold a model (YKC16 firmware),
 * so "no tariff" would mean "no charging" on a first try. Prices in yuan/kWh (5 decimals on the wire).
 */
export const DEFAULT_TARIFF: TariffBody = {
  modelCode: '0001',
  sharpElecPrice: 1.2, sharpServicePrice: 0.6,
  peakElecPrice: 1.0, peakServicePrice: 0.6,
  flatElecPrice: 0.8, flatServicePrice: 0.5,
  valleyElecPrice: 0.4, valleyServicePrice: 0.4,
  lossRatio: 0,
  // valley 00:00–08:00, flat 08:00–10:00, peak 10:00–12:00, flat 12:00–17:00, sharp 17:00–19:00, peak 19:00–21:00, flat 21:00–23:00, valley 23:00–24:00
  slots: Array.from({ length: 48 }, (_, k) => (k < 16 ? 3 : k < 20 ? 2 : k < 24 ? 1 : k < 34 ? 2 : k < 38 ? 0 : k < 42 ? 1 : k < 46 ? 2 : 3)),
};
