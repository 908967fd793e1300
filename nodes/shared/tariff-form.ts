/** The tariff a node's edit dialog holds (ykc-tariff, ykc-billing): the 0x58 body's fields as text. */
import { LEVEL_NAMES } from '../../src/billing';

export interface TariffFormDef {
  modelCode?: string;
  sharpElecPrice?: string;
  sharpServicePrice?: string;
  peakElecPrice?: string;
  peakServicePrice?: string;
  flatElecPrice?: string;
  flatServicePrice?: string;
  valleyElecPrice?: string;
  valleyServicePrice?: string;
  lossRatio?: string | number;
  /** 48 digits 0–3, one per half hour from 00:00. */
  slots?: string;
}

/** "0123…" (48 digits, spaces and commas allowed) → [0,1,2,3,…]; arrays and anything else pass unchanged for the validator. */
export function slotsOf(v: unknown): unknown {
  if (typeof v === 'string' && /^[\d\s,]*$/.test(v)) return v.replace(/[\s,]/g, '').split('').map(Number);
  return v;
}

/** The dialog's fields as a 0x58-shaped body (not yet validated: Tariff.fromBody does that). */
export function tariffFormBody(config: TariffFormDef): Record<string, unknown> {
  const loss = config.lossRatio;
  const body: Record<string, unknown> = {
    modelCode: config.modelCode,
    lossRatio: loss === '' || loss === undefined ? 0 : Number(loss),
    slots: slotsOf(config.slots),
  };
  for (const l of LEVEL_NAMES) {
    body[`${l}ElecPrice`] = config[`${l}ElecPrice`];
    body[`${l}ServicePrice`] = config[`${l}ServicePrice`];
  }
  return body;
}
