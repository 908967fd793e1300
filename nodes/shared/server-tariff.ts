/**
 * The default tariff of a ykc-server node: the one the gateway answers a pile's 0x05 check and 0x09
 * request with when nobody gave that pile its own (ykc-tariff). Three sources, first that applies:
 *
 * 1. `tariff`: a JSON 0x58 body (flows written before the dialog had a grid; the dialog converts it);
 * 2. `tariffMode: "none"`: no default, piles get a model only from ykc-tariff;
 * 3. the dialog's grid and prices (nodes/shared/tariff-form.ts, the same fields as ykc-tariff).
 *    A new node's dialog starts with DEFAULT_TARIFF (src/billing/default-tariff.ts); a flow file
 *    without any of these fields (hand-written, older) has no default.
 */
import { Tariff, TariffBody } from '../../src/billing';
import { YkcError } from '../../src/protocol';
import { tariffFormBody, TariffFormDef } from './tariff-form';

export interface ServerTariffDef extends TariffFormDef {
  tariff?: string;
  tariffMode?: 'form' | 'none';
}

/** The validated default tariff, or null; throws YKC_TARIFF (with `field`) when the config is wrong. */
export function serverTariff(config: ServerTariffDef): TariffBody | null {
  const json = String(config.tariff ?? '').trim();
  if (json) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(json);
    } catch (e) {
      throw new YkcError('YKC_TARIFF', (e as Error).message, { field: 'tariff' });
    }
    return Tariff.from(parsed).toBody();
  }
  if (config.tariffMode === 'none') return null;
  if (config.modelCode === undefined && config.slots === undefined) return null;
  return Tariff.fromBody(tariffFormBody(config)).toBody();
}
