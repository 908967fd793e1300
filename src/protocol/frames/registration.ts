/** 0x01–0x0A and 0x57/0x58: login, heartbeat, billing model (docs/protocol.md §5.1). */
import { ascii, bcd, enumeration, fieldError, uint, Field } from '../fields';
import { CARRIER, FAIL_OK, HEARTBEAT_GUN_STATE, LOGIN_RESULT, MODEL_CHECK, NETWORK, PILE_TYPE } from '../enums';
import { defineFrame } from '../schema';
import { gunNo, modelCode, pileNo } from './common';

const LEVELS = ['sharp', 'peak', 'flat', 'valley'] as const;

/** The 0x0A / 0x58 body: four levels of electricity + service rates, loss ratio, 48 half-hour slots. */
function tariffFields(): Field[] {
  const fields: Field[] = [pileNo(), modelCode()];
  for (const level of LEVELS) {
    fields.push(uint(`${level}ElecPrice`, 4, { decimals: 5, unit: 'yuan/kWh' }));
    fields.push(uint(`${level}ServicePrice`, 4, { decimals: 5, unit: 'yuan/kWh' }));
  }
  fields.push(uint('lossRatio', 1, { values: '0 = no loss accounting' }));
  fields.push(slots());
  return fields;
}

/** 48 rate-level bytes, slot k = [k·30 min, (k+1)·30 min). */
function slots(): Field {
  return {
    name: 'slots',
    width: 48,
    doc: { enc: 'BIN 48', values: 'array of 48 rate levels (0 sharp, 1 peak, 2 flat, 3 valley), slot k = k·30 min' },
    decode(b, o, out) {
      const a = new Array<number>(48);
      for (let i = 0; i < 48; i++) a[i] = b[o + i];
      out.slots = a;
    },
    gen(b, at) {
      return { props: [['slots', `[${Array.from({ length: 48 }, (_, i) => `${b}[${at(i)}]`).join(',')}]`]] };
    },
    encode(b, o, body, ctx) {
      const a = body.slots;
      if (!Array.isArray(a) || a.length !== 48) {
        throw fieldError(ctx, 'slots', Array.isArray(a) ? `${a.length} entries` : a, 'must be an array of 48 rate levels');
      }
      for (let i = 0; i < 48; i++) {
        const v = a[i];
        if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 255) {
          throw fieldError(ctx, `slots[${i}]`, v, 'must be a rate level 0–3');
        }
        b[o + i] = v;
      }
    },
  };
}

export const registrationFrames = [
  defineFrame({
    type: 0x01, name: 'login', zh: '充电桩登录认证', en: 'login', dir: 'up', reply: 0x02,
    layouts: [{ fields: [
      pileNo(),
      enumeration('pileType', 1, PILE_TYPE),
      uint('gunCount', 1),
      uint('protocolVersion', 1, { decimals: 1, values: '1.5 (0x0F), 1.6 (0x10); older piles send 1.4 (0x0E) and below' }),
      ascii('firmwareVersion', 8),
      enumeration('networkType', 1, NETWORK),
      bcd('iccid', 10, { values: 'SIM ICCID, zeros if none' }),
      enumeration('carrier', 1, CARRIER),
    ] }],
  }),
  defineFrame({
    type: 0x02, name: 'loginReply', zh: '登录认证应答', en: 'login reply', dir: 'down', answers: 0x01,
    layouts: [{ fields: [pileNo(), enumeration('result', 1, LOGIN_RESULT)] }],
  }),
  defineFrame({
    type: 0x03, name: 'heartbeat', zh: '充电桩心跳包', en: 'heartbeat', dir: 'up', reply: 0x04,
    layouts: [{ fields: [pileNo(), gunNo(), enumeration('gunState', 1, HEARTBEAT_GUN_STATE)] }],
  }),
  defineFrame({
    type: 0x04, name: 'heartbeatReply', zh: '心跳包应答', en: 'heartbeat reply', dir: 'down', answers: 0x03,
    layouts: [{ fields: [pileNo(), gunNo(), uint('reply', 1, { values: '0' })] }],
  }),
  defineFrame({
    type: 0x05, name: 'billingModelCheck', zh: '计费模型验证请求', en: 'billing-model check', dir: 'up', reply: 0x06,
    layouts: [{ fields: [pileNo(), modelCode()] }],
  }),
  defineFrame({
    type: 0x06, name: 'billingModelCheckReply', zh: '计费模型验证请求应答', en: 'billing-model check reply', dir: 'down', answers: 0x05,
    layouts: [{ fields: [pileNo(), modelCode(), enumeration('result', 1, MODEL_CHECK)] }],
  }),
  defineFrame({
    type: 0x09, name: 'billingModelRequest', zh: '充电桩计费模型请求', en: 'billing-model request', dir: 'up', reply: 0x0a,
    layouts: [{ fields: [pileNo()] }],
  }),
  defineFrame({
    type: 0x0a, name: 'billingModel', zh: '计费模型请求应答', en: 'billing model', dir: 'down', answers: 0x09,
    layouts: [{ fields: tariffFields() }],
  }),
  defineFrame({
    type: 0x57, name: 'tariffSetReply', zh: '计费模型应答', en: 'billing-model push reply', dir: 'up', answers: 0x58,
    layouts: [{ fields: [pileNo(), enumeration('result', 1, FAIL_OK)] }],
  }),
  defineFrame({
    type: 0x58, name: 'tariffSet', zh: '计费模型设置', en: 'billing-model push', dir: 'down', reply: 0x57,
    layouts: [{ fields: tariffFields() }],
  }),
];
