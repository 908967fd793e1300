/**
 * Alarms about orders. Each (code, pile, trade number) is raised once and cleared once: time-based
 * alarms clear when their condition ends; alarms about a fact already on record (meterAnomaly,
 * tradeReused, auditFailed) are latched and clear when acknowledged or when the order is closed
 * by hand. Acknowledging a time-based alarm only marks it seen.
 */
import { isoAt } from './order';

export const ALARM_CODES = [
  'startNotConfirmed', 'realtimeSilent', 'offlineWhileCharging', 'recordMissing', 'recordUnconfirmed', 'meterAnomaly', 'tradeReused', 'auditFailed',
] as const;
export type AlarmCode = (typeof ALARM_CODES)[number];
export type Severity = 'critical' | 'major' | 'minor' | 'warning';

export const LATCHED: ReadonlySet<AlarmCode> = new Set<AlarmCode>(['meterAnomaly', 'tradeReused', 'auditFailed']);

export const SEVERITY: Record<AlarmCode, Severity> = {
  startNotConfirmed: 'warning',
  realtimeSilent: 'minor',
  offlineWhileCharging: 'major',
  recordMissing: 'major',
  recordUnconfirmed: 'major',
  meterAnomaly: 'major',
  tradeReused: 'critical',
  auditFailed: 'major',
};

export interface Alarm {
  code: AlarmCode;
  pileNo: string;
  gunNo: number;
  tradeNo: string;
  since: number;
  acknowledged: boolean;
  /** Figures behind the alarm (thresholds, energies), plain JSON. */
  details: Record<string, unknown>;
}

export interface AlarmPayload {
  code: AlarmCode;
  severity: Severity;
  pileNo: string;
  gunNo: number;
  tradeNo: string;
  since: string;
  active: boolean;
  acknowledged: boolean;
  clearedAt: string | null;
  /** Why it cleared: condition ended, acknowledged, order closed… */
  clearReason: string | null;
  text: { en: string; zh: string };
  details: Record<string, unknown>;
}

const short = (t: string) => `…${t.slice(-8)}`;
const sec = (ms: unknown) => `${Math.round(Number(ms) / 1000)} s`;

/** One sentence per language; figures from details. */
export function alarmText(a: Alarm): { en: string; zh: string } {
  const where = `${a.pileNo}#${a.gunNo} ${short(a.tradeNo)}`;
  const d = a.details;
  switch (a.code) {
    case 'startNotConfirmed':
      return { en: `${where}: start accepted but no charging realtime data (0x13) within ${sec(d.thresholdMs)}`, zh: `${where}:启动已受理,但 ${sec(d.thresholdMs)} 内未收到充电中的实时数据(0x13)` };
    case 'realtimeSilent':
      return { en: `${where}: charging, online, but no realtime data (0x13) for ${sec(d.thresholdMs)}`, zh: `${where}:充电中且在线,但 ${sec(d.thresholdMs)} 未收到实时数据(0x13)` };
    case 'offlineWhileCharging':
      return { en: `${where}: the pile went offline while charging`, zh: `${where}:充电过程中充电桩离线` };
    case 'recordMissing':
      return { en: `${where}: the charge ended but no transaction record (0x3B) within ${sec(d.thresholdMs)}`, zh: `${where}:充电已结束,但 ${sec(d.thresholdMs)} 内未收到交易记录(0x3B)` };
    case 'recordUnconfirmed':
      return { en: `${where}: transaction record not confirmed (stored) after ${sec(d.ageMs)} and ${String(d.resends)} resends`, zh: `${where}:交易记录 ${sec(d.ageMs)}、重发 ${String(d.resends)} 次后仍未确认(入库)` };
    case 'meterAnomaly':
      return { en: `${where}: meter anomaly — ${String(d.reason)}`, zh: `${where}:电表读数异常 — ${String(d.reasonZh ?? d.reason)}` };
    case 'tradeReused':
      return { en: `${where}: trade number used again for a new order`, zh: `${where}:交易流水号被新订单重复使用` };
    case 'auditFailed':
      return { en: `${where}: the record failed the billing audit`, zh: `${where}:交易记录未通过计费核对` };
  }
}

export function alarmPayload(a: Alarm, active: boolean, offsetMinutes: number, cleared: { at: number; reason: string } | null = null): AlarmPayload {
  return {
    code: a.code,
    severity: SEVERITY[a.code],
    pileNo: a.pileNo,
    gunNo: a.gunNo,
    tradeNo: a.tradeNo,
    since: isoAt(a.since, offsetMinutes),
    active,
    acknowledged: a.acknowledged,
    clearedAt: cleared ? isoAt(cleared.at, offsetMinutes) : null,
    clearReason: cleared ? cleared.reason : null,
    text: alarmText(a),
    details: a.details,
  };
}

export const alarmKey = (code: AlarmCode, pileNo: string, tradeNo: string): string => `${code}|${pileNo}:${tradeNo}`;
