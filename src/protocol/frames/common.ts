/** Fields shared by many frames: the identifiers of docs/protocol.md §3.1. */
import { bcd, bcdNum, hex, Field } from '../fields';

export const pileNo = (): Field => bcd('pileNo', 7, { values: '14-digit pile number, required' }, { required: true, exact: true });
export const gunNo = (): Field => bcdNum('gunNo', 1, { values: 'gun 1…99' });
export const tradeNo = (): Field => bcd('tradeNo', 16, { values: '32-digit trade number' });
export const modelCode = (): Field => bcd('modelCode', 2, { values: 'billing model code, 4 digits' });
export const logicalCardNo = (): Field => bcd('logicalCardNo', 8, { values: '16-digit printed card number' });
export const physicalCardNo = (): Field => hex('physicalCardNo', 8, { values: 'card UID, hex in reading order, left-padded with zeros' });
export const parallelNo = (): Field => bcd('parallelNo', 6, { values: 'parallel-charge serial yyMMddHHmmss' });
