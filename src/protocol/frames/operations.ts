/** 0x31–0x48: starts, stops, transaction records, balances, offline cards (docs/protocol.md §5.3). */
import { ascii, bcd, enumeration, hex, uint, Field } from '../fields';
import { cp56 } from '../cp56';
import {
  AUTH_FAIL_REASON, AUTH_RESULT, BALANCE_RESULT, CARD_CLEARED, CARD_CLEAR_REASON, CARD_STORED, CARD_SYNC_REASON,
  CARD_SYNC_RESULT, NO_YES, RECORD_ACK, START_FAIL_REASON, START_METHOD, START_RESULT, START_TYPE, STOP_FAIL_REASON, STOP_REASON,
} from '../enums';
import { defineFrame } from '../schema';
import { gunNo, logicalCardNo, physicalCardNo, pileNo, tradeNo } from './common';

const yuan2 = (name: string) => uint(name, 4, { decimals: 2, unit: 'yuan' });

/** Bodies shared with the 1.6 parallel frames (0xA1–0xA4 extend these). */
export const cardStartRequestFields = (): Field[] => [
  pileNo(),
  gunNo(),
  enumeration('startMethod', 1, START_METHOD),
  enumeration('passwordRequired', 1, NO_YES),
  physicalCardNo(),
  hex('password', 16, { values: 'MD5 form of the password, zeros if none' }),
  ascii('vin', 17, { reversed: true, doc: { values: 'sent byte-reversed; decoded in normal order' } }),
];
export const startAuthFields = (): Field[] => [
  tradeNo(),
  pileNo(),
  gunNo(),
  logicalCardNo(),
  yuan2('balance'),
  enumeration('result', 1, AUTH_RESULT),
  enumeration('failReason', 1, AUTH_FAIL_REASON),
];
export const remoteStartReplyFields = (): Field[] => [
  tradeNo(),
  pileNo(),
  gunNo(),
  enumeration('result', 1, START_RESULT),
  enumeration('failReason', 1, START_FAIL_REASON),
];
export const remoteStartFields = (): Field[] => [tradeNo(), pileNo(), gunNo(), logicalCardNo(), physicalCardNo(), yuan2('balance')];

const LEVELS = ['sharp', 'peak', 'flat', 'valley'] as const;

function levelBlock(level: string): Field[] {
  return [
    uint(`${level}Price`, 4, { decimals: 5, unit: 'yuan/kWh', values: 'electricity + service' }),
    uint(`${level}Energy`, 4, { decimals: 4, unit: 'kWh' }),
    uint(`${level}LossEnergy`, 4, { decimals: 4, unit: 'kWh' }),
    uint(`${level}Amount`, 4, { decimals: 4, unit: 'yuan' }),
  ];
}

/**
 * The transaction record's fields (0x3B; 0x3D with the 1.7 meter block; 0x3F / 0x39 of 1.4 and
 * older with 4-byte meter readings, frames/legacy.ts).
 */
export function recordFields(opts: { deepValley?: boolean; meter17?: boolean; meterWidth?: 4 | 5 }): Field[] {
  const meterWidth = opts.meterWidth ?? 5;
  const fields: Field[] = [tradeNo(), pileNo(), gunNo(), cp56('startTime'), cp56('endTime')];
  if (opts.meter17) {
    fields.push(
      bcd('meterNo', 6),
      hex('meterCiphertext', 34),
      uint('meterProtocolVersion', 2),
      uint('meterEncryption', 1),
    );
  }
  for (const l of LEVELS) fields.push(...levelBlock(l));
  if (opts.deepValley) fields.push(...levelBlock('deepValley'));
  fields.push(
    uint('meterStart', meterWidth, { decimals: 4, unit: 'kWh' }),
    uint('meterEnd', meterWidth, { decimals: 4, unit: 'kWh' }),
    uint('totalEnergy', 4, { decimals: 4, unit: 'kWh' }),
    uint('totalLossEnergy', 4, { decimals: 4, unit: 'kWh' }),
    uint('totalAmount', 4, { decimals: 4, unit: 'yuan' }),
    ascii('vin', 17),
    enumeration('startType', 1, START_TYPE),
    cp56('tradeTime'),
    enumeration('stopReason', 1, STOP_REASON, { values: '§6.1 stop reasons' }),
    physicalCardNo(),
  );
  return fields;
}

export const operationFrames = [
  defineFrame({
    type: 0x31, name: 'cardStartRequest', zh: '充电桩主动申请启动充电', en: 'pile start request (card / VIN)', dir: 'up', reply: 0x32,
    layouts: [{ fields: cardStartRequestFields() }],
  }),
  defineFrame({
    type: 0x32, name: 'startAuth', zh: '运营平台确认启动充电', en: 'start authorisation', dir: 'down', answers: 0x31,
    layouts: [{ fields: startAuthFields() }],
  }),
  defineFrame({
    type: 0x33, name: 'remoteStartReply', zh: '远程启动充电命令回复', en: 'remote-start reply', dir: 'up', answers: 0x34,
    layouts: [{ fields: remoteStartReplyFields() }],
  }),
  defineFrame({
    type: 0x34, name: 'remoteStart', zh: '运营平台远程控制启机', en: 'remote start', dir: 'down', reply: 0x33,
    layouts: [{ fields: remoteStartFields() }],
  }),
  defineFrame({
    type: 0x35, name: 'remoteStopReply', zh: '远程停机命令回复', en: 'remote-stop reply', dir: 'up', answers: 0x36,
    layouts: [{ fields: [pileNo(), gunNo(), enumeration('result', 1, { 0: 'failed', 1: 'stopped' }), enumeration('failReason', 1, STOP_FAIL_REASON)] }],
  }),
  defineFrame({
    type: 0x36, name: 'remoteStop', zh: '运营平台远程停机', en: 'remote stop', dir: 'down', reply: 0x35,
    layouts: [{ fields: [pileNo(), gunNo()] }],
  }),
  defineFrame({
    type: 0x3b, name: 'transactionRecord', zh: '交易记录', en: 'transaction record', dir: 'up', reply: 0x40,
    layouts: [
      { fields: recordFields({}) },
      // A 5-tier vendor variant (L = 0xB2) seen in real traffic: a "deep valley" block after valley.
      { fields: recordFields({ deepValley: true }), variant: '5-tier', match: (b) => b.deepValleyPrice !== undefined },
    ],
  }),
  defineFrame({
    type: 0x3d, name: 'transactionRecordV17', zh: '交易记录(1.7)', en: 'transaction record (1.7, with meter data)', dir: 'up', reply: 0x40, since: '1.7',
    layouts: [{ fields: recordFields({ meter17: true }) }],
  }),
  defineFrame({
    type: 0x40, name: 'recordAck', zh: '交易记录确认', en: 'transaction-record ack', dir: 'down', answers: 0x3b,
    layouts: [{ fields: [tradeNo(), enumeration('result', 1, RECORD_ACK)] }],
  }),
  defineFrame({
    type: 0x41, name: 'balanceUpdateReply', zh: '余额更新应答', en: 'balance-update reply', dir: 'up', answers: 0x42,
    layouts: [{ fields: [pileNo(), physicalCardNo(), enumeration('result', 1, BALANCE_RESULT)] }],
  }),
  defineFrame({
    type: 0x42, name: 'balanceUpdate', zh: '远程账户余额更新', en: 'balance update', dir: 'down', reply: 0x41,
    layouts: [{ fields: [pileNo(), gunNo(), physicalCardNo(), yuan2('balance')] }],
  }),
  defineFrame({
    type: 0x43, name: 'cardSyncReply', zh: '离线卡数据同步应答', en: 'offline-card sync reply', dir: 'up', answers: 0x44,
    layouts: [{ fields: [pileNo(), enumeration('result', 1, CARD_SYNC_RESULT), enumeration('failReason', 1, CARD_SYNC_REASON)] }],
  }),
  defineFrame({
    type: 0x44, name: 'cardSync', zh: '离线卡数据同步', en: 'offline-card sync', dir: 'down', reply: 0x43,
    layouts: [{ fields: [pileNo()], list: { name: 'cards', countWidth: 1, item: [logicalCardNo(), physicalCardNo()], maxItems: 15 } }],
  }),
  defineFrame({
    type: 0x45, name: 'cardClearReply', zh: '离线卡数据清除应答', en: 'offline-card clear reply', dir: 'up', answers: 0x46,
    layouts: [{ fields: [pileNo()], list: { name: 'cards', countWidth: 0, item: [physicalCardNo(), enumeration('result', 1, CARD_CLEARED), enumeration('failReason', 1, CARD_CLEAR_REASON)] } }],
  }),
  defineFrame({
    type: 0x46, name: 'cardClear', zh: '离线卡数据清除', en: 'offline-card clear', dir: 'down', reply: 0x45,
    layouts: [{ fields: [pileNo()], list: { name: 'cards', countWidth: 1, item: [physicalCardNo()], maxItems: 24 } }],
  }),
  defineFrame({
    type: 0x47, name: 'cardQueryReply', zh: '离线卡数据查询应答', en: 'offline-card query reply', dir: 'up', answers: 0x48,
    layouts: [{ fields: [pileNo()], list: { name: 'cards', countWidth: 0, item: [physicalCardNo(), enumeration('result', 1, CARD_STORED)] } }],
  }),
  defineFrame({
    type: 0x48, name: 'cardQuery', zh: '离线卡数据查询', en: 'offline-card query', dir: 'down', reply: 0x47,
    layouts: [{ fields: [pileNo()], list: { name: 'cards', countWidth: 1, item: [physicalCardNo()], maxItems: 26 } }],
  }),
];
