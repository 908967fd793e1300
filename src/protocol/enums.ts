/** Enumerations of docs/protocol.md §5 and §6, code → readable English name. */

export const PILE_TYPE = { 0: 'DC', 1: 'AC' } as const;
export const NETWORK = { 0: 'SIM', 1: 'LAN', 2: 'WAN', 3: 'other' } as const;
export const CARRIER = { 0: 'China Mobile', 2: 'China Telecom', 3: 'China Unicom', 4: 'other' } as const;
export const LOGIN_RESULT = { 0: 'accepted', 1: 'rejected' } as const;
export const HEARTBEAT_GUN_STATE = { 0: 'normal', 1: 'fault' } as const;
export const MODEL_CHECK = { 0: 'same', 1: 'different' } as const;
export const GUN_STATE = { 0: 'offline', 1: 'fault', 2: 'idle', 3: 'charging' } as const;
export const HOLSTERED = { 0: 'no', 1: 'yes', 2: 'cannot detect' } as const;
export const PLUGGED = { 0: 'no', 1: 'yes' } as const;
export const FAIL_OK = { 0: 'failed', 1: 'ok' } as const;
export const NO_YES = { 0: 'no', 1: 'yes' } as const;

/** 0x13 hardware-fault bitmap, bit 0 first (§6.3). */
export const HARDWARE_FAULT_BITS = [
  'emergencyStop',
  'noPowerModule',
  'airOutletOverTemp',
  'acSurgeProtector',
  'dcModuleCommLost',
  'insulationMonitorCommLost',
  'meterCommLost',
  'cardReaderCommLost',
  'rc10CommLost',
  'fanBoardFault',
  'dcFuseFault',
  'hvContactorFault',
  'doorOpen',
] as const;

export const BATTERY_TYPE = {
  1: 'lead-acid',
  2: 'NiMH',
  3: 'LiFePO4',
  4: 'LiMn2O4',
  5: 'LiCoO2',
  6: 'NCM',
  7: 'Li-polymer',
  8: 'Li-titanate',
  255: 'other',
} as const;
export const OWNERSHIP = { 0: 'leased', 1: 'vehicle-owned' } as const;
export const CHARGE_MODE = { 1: 'constant voltage', 2: 'constant current' } as const;

export const START_METHOD = { 1: 'card', 2: 'account', 3: 'VIN' } as const;
export const AUTH_RESULT = { 0: 'refused', 1: 'accepted' } as const;
/** 0x32 / 0xA2 refusal reasons (§6.4). */
export const AUTH_FAIL_REASON = {
  0: 'none',
  1: 'account not found',
  2: 'account frozen',
  3: 'balance too low',
  4: 'card has an unsettled record',
  5: 'pile disabled',
  6: 'account not allowed on this pile',
  7: 'wrong password',
  8: 'station capacity insufficient',
  9: 'VIN unknown',
  10: 'pile has an unsettled record',
  11: 'pile does not accept cards',
} as const;
export const START_RESULT = { 0: 'failed', 1: 'started' } as const;
export const START_FAIL_REASON = {
  0: 'none',
  1: 'pile number mismatch',
  2: 'gun already charging',
  3: 'device fault',
  4: 'device offline',
  5: 'gun not plugged in',
} as const;
export const STOP_FAIL_REASON = { 0: 'none', 1: 'pile number mismatch', 2: 'gun not charging', 3: 'other' } as const;
export const START_TYPE = { 1: 'app', 2: 'card', 4: 'offline card', 5: 'VIN' } as const;
export const RECORD_ACK = { 0: 'received', 1: 'illegal record' } as const;
export const BALANCE_RESULT = { 0: 'updated', 1: 'pile number wrong', 2: 'card number wrong' } as const;
export const CARD_SYNC_RESULT = { 0: 'failed', 1: 'stored' } as const;
export const CARD_SYNC_REASON = { 0: 'none', 1: 'card number format error', 2: 'storage full' } as const;
export const CARD_CLEARED = { 0: 'not cleared', 1: 'cleared' } as const;
export const CARD_CLEAR_REASON = { 0: 'cleared', 1: 'card number format error' } as const;
export const CARD_STORED = { 0: 'not stored', 1: 'stored' } as const;
export const WORK_STATE = { 0: 'enabled', 1: 'disabled' } as const;
export const LOCK_STATE = { 0: 'moving', 0x55: 'raised', 0xff: 'lowered' } as const;
export const BAY_STATE = { 0: 'empty', 0xff: 'occupied' } as const;
export const LOCK_ALARM = { 0: 'none', 0x55: 'arm failed to reach position', 0xff: 'arm damaged while standing by' } as const;
export const LOCK_ACTION = { 0x55: 'raise', 0xff: 'lower' } as const;
export const LOCK_RESULT = { 0: 'failed', 1: 'ok' } as const;
export const RUN_WHEN = { 1: 'now', 2: 'when idle' } as const;
export const PILE_MODEL = { 1: 'DC', 2: 'AC' } as const;
export const OTA_STATUS = { 0: 'ok', 1: 'pile number wrong', 2: 'firmware does not fit this model', 3: 'download timed out' } as const;
export const MAIN_AUX = { 0: 'main', 1: 'auxiliary' } as const;

export type StopReasonClass = 'finished' | 'start failed' | 'aborted' | 'unknown' | 'none' | 'reserved';

/** §6.1 stop reasons of the transaction record (0x3B byte 149). */
export const STOP_REASON: Readonly<Record<number, string>> = {
  0x00: 'none',
  0x40: 'stopped remotely from the app',
  0x41: 'SOC reached 100 %',
  0x42: 'energy target reached',
  0x43: 'money target reached',
  0x44: 'time target reached',
  0x45: 'stopped manually at the pile',
  0x4a: 'pile control system fault',
  0x4b: 'control pilot disconnected',
  0x4c: 'circuit breaker tripped',
  0x4d: 'energy-meter communication lost',
  0x4e: 'insufficient balance',
  0x4f: 'power-module fault',
  0x50: 'emergency-stop input',
  0x51: 'surge-protector fault',
  0x52: 'BMS not ready',
  0x53: 'temperature abnormal',
  0x54: 'battery reverse polarity',
  0x55: 'electronic lock fault',
  0x56: 'contactor failed to close',
  0x57: 'insulation fault',
  0x59: 'timeout waiting for BHM',
  0x5a: 'timeout waiting for BRM',
  0x5b: 'timeout waiting for BCP',
  0x5c: 'timeout waiting for BRO (0xAA)',
  0x5d: 'timeout waiting for BCS',
  0x5e: 'timeout waiting for BCL',
  0x5f: 'timeout waiting for BSM',
  0x60: 'GB/T-2015: voltage on the battery side during BHM',
  0x61: 'GB/T-2015: battery voltage differs from BCP by more than 5 %',
  0x62: 'GB/T-2015: BRO went from AA back to 00 during pre-charge',
  0x63: 'timeout waiting for the controller configuration message',
  0x64: 'charger not ready (no CRO AA)',
  0x6a: 'system lock-out',
  0x6b: 'control pilot disconnected',
  0x6c: 'circuit breaker tripped',
  0x6d: 'energy-meter communication lost',
  0x6e: 'balance exhausted',
  0x6f: 'AC protection tripped',
  0x70: 'DC protection tripped',
  0x71: 'power-module fault',
  0x72: 'emergency-stop input',
  0x73: 'surge-protector fault',
  0x74: 'temperature abnormal',
  0x75: 'output abnormal',
  0x76: 'no current flowing',
  0x77: 'electronic lock fault',
  0x79: 'total charge voltage abnormal',
  0x7a: 'total charge current abnormal',
  0x7b: 'cell charge voltage abnormal',
  0x7c: 'battery pack over-temperature',
  0x7d: 'highest cell voltage abnormal',
  0x7e: 'highest battery-pack temperature abnormal',
  0x7f: 'BMV (cell voltage) abnormal',
  0x80: 'BMT (pack temperature) abnormal',
  0x81: 'battery status abnormal',
  0x82: 'vehicle message forbids charging',
  0x83: 'pile lost power',
  0x84: 'timeout on BCS',
  0x85: 'timeout on BCL',
  0x86: 'timeout on BSM',
  0x87: 'timeout on BST',
  0x88: 'timeout on BSD',
  0x89: 'timeout on the peer CCS message',
  0x90: 'unknown reason',
};

/** The class of a stop reason code (§6.1): how a session ended. */
export function stopReasonClass(code: number): StopReasonClass {
  if (code === 0) return 'none';
  if (code >= 0x40 && code <= 0x49) return 'finished';
  if (code >= 0x4a && code <= 0x69 && code !== 0x58) return 'start failed';
  if (code >= 0x6a && code <= 0x8f && code !== 0x78) return 'aborted';
  if (code === 0x90) return 'unknown';
  return 'reserved';
}
