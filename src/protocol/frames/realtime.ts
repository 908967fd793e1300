/** 0x12–0x25: realtime data and the GB/T 27930 BMS frames (docs/protocol.md §5.2, §6.5). */
import { ascii, bits, enumeration, fieldError, flags, hex, uint, Field } from '../fields';
import { BATTERY_TYPE, CHARGE_MODE, GUN_STATE, HARDWARE_FAULT_BITS, HOLSTERED, OWNERSHIP, PLUGGED } from '../enums';
import { defineFrame } from '../schema';
import { gunNo, pileNo, tradeNo } from './common';

const ids = () => [tradeNo(), pileNo(), gunNo()];
const volts = (name: string) => uint(name, 2, { decimals: 1, unit: 'V' });
const bmsAmps = (name: string) => uint(name, 2, { decimals: 1, offset: -400, unit: 'A' });
const celsius = (name: string, zeroIsNull = false) => uint(name, 1, { offset: -50, unit: '°C', zeroIsNull });

/** 2-bit GB/T flag: 00 normal, 01 timeout/fault, 10 untrustworthy. */
const two = (name: string) => [name, 2] as const;

export const realtimeFrames = [
  defineFrame({
    type: 0x12, name: 'readRealtime', zh: '读取实时监测数据', en: 'read realtime data', dir: 'down', reply: 0x13,
    layouts: [{ fields: [pileNo(), gunNo()] }],
  }),
  defineFrame({
    type: 0x13, name: 'realtime', zh: '上传实时监测数据', en: 'realtime data', dir: 'up', answers: 0x12,
    layouts: [{ fields: [
      ...ids(),
      enumeration('gunState', 1, GUN_STATE),
      enumeration('gunHolstered', 1, HOLSTERED),
      enumeration('gunPlugged', 1, PLUGGED),
      volts('outputVoltage'),
      uint('outputCurrent', 2, { decimals: 1, unit: 'A' }),
      celsius('gunTemp', true),
      hex('gunCableCode', 8),
      uint('soc', 1, { unit: '%' }),
      celsius('batteryMaxTemp', true),
      uint('chargingMinutes', 2, { unit: 'min' }),
      uint('remainingMinutes', 2, { unit: 'min' }),
      uint('chargedEnergy', 4, { decimals: 4, unit: 'kWh' }),
      uint('lossEnergy', 4, { decimals: 4, unit: 'kWh' }),
      uint('chargedAmount', 4, { decimals: 4, unit: 'yuan' }),
      flags('hardwareFault', 2, 'hardwareFaults', HARDWARE_FAULT_BITS),
    ] }],
  }),
  defineFrame({
    type: 0x15, name: 'bmsHandshake', zh: '充电握手', en: 'charging handshake (BRM)', dir: 'up',
    layouts: [{ fields: [
      ...ids(),
      hex('bmsProtocolVersion', 3, { values: 'byte 0 minor, bytes 1–2 major' }),
      enumeration('batteryType', 1, BATTERY_TYPE),
      uint('ratedCapacity', 2, { decimals: 1, unit: 'Ah' }),
      volts('ratedVoltage'),
      ascii('batteryMaker', 4),
      hex('batteryPackSerial', 4),
      uint('productionYear', 1, { offset: 1985 }),
      uint('productionMonth', 1),
      uint('productionDay', 1),
      uint('chargeCycles', 3),
      enumeration('ownership', 1, OWNERSHIP),
      hex('reserved', 1),
      ascii('vin', 17),
      hex('bmsSoftwareVersion', 8, { values: 'build, day, month, year (2 bytes), FF FF FF' }),
    ] }],
  }),
  defineFrame({
    type: 0x17, name: 'bmsParams', zh: '参数配置', en: 'parameter configuration (BCP + CML)', dir: 'up',
    layouts: [{ fields: [
      ...ids(),
      uint('maxCellVoltage', 2, { decimals: 2, unit: 'V' }),
      bmsAmps('maxChargeCurrent'),
      uint('nominalEnergy', 2, { decimals: 1, unit: 'kWh' }),
      volts('maxChargeVoltage'),
      celsius('maxTemp'),
      uint('soc', 2, { decimals: 1, unit: '%' }),
      volts('batteryVoltage'),
      volts('chargerMaxVoltage'),
      volts('chargerMinVoltage'),
      bmsAmps('chargerMaxCurrent'),
      bmsAmps('chargerMinCurrent'),
    ] }],
  }),
  defineFrame({
    type: 0x19, name: 'chargeEnd', zh: '充电结束', en: 'charge end (BSD + CSD)', dir: 'up',
    layouts: [{ fields: [
      ...ids(),
      uint('finalSoc', 1, { unit: '%' }),
      uint('minCellVoltage', 2, { decimals: 2, unit: 'V' }),
      uint('maxCellVoltage', 2, { decimals: 2, unit: 'V' }),
      celsius('minBatteryTemp'),
      celsius('maxBatteryTemp'),
      uint('chargingMinutes', 2, { unit: 'min' }),
      uint('outputEnergy', 2, { decimals: 1, unit: 'kWh' }),
      uint('chargerNo', 4),
    ] }],
  }),
  defineFrame({
    type: 0x1b, name: 'bmsError', zh: '错误报文', en: 'error (BEM + CEM)', dir: 'up',
    layouts: [{ fields: [
      ...ids(),
      bits('bem', 4, [
        two('crm00Timeout'), two('crmAaTimeout'), ['reserved1', 4],
        two('ctsCmlTimeout'), two('croTimeout'), ['reserved2', 4],
        two('ccsTimeout'), two('cstTimeout'), ['reserved3', 4],
        two('csdTimeout'), ['bmsOther', 6],
      ], { values: '2-bit flags: 0 normal, 1 timeout, 2 untrustworthy' }),
      bits('cem', 4, [
        two('brmTimeout'), ['reserved1', 6],
        two('bcpTimeout'), two('broTimeout'), ['reserved2', 4],
        two('bcsTimeout'), two('bclTimeout'), two('bstTimeout'), ['reserved3', 2],
        two('bsdTimeout'), ['chargerOther', 6],
      ], { values: '2-bit flags: 0 normal, 1 timeout, 2 untrustworthy' }),
    ] }],
  }),
  defineFrame({
    type: 0x1d, name: 'bmsAbort', zh: '充电阶段BMS中止', en: 'BMS abort (BST)', dir: 'up',
    layouts: [{ fields: [
      ...ids(),
      bits('stopReason', 1, [two('socReached'), two('totalVoltageReached'), two('cellVoltageReached'), two('chargerStopped')]),
      bits('faultReason', 2, [
        two('insulation'), two('outputConnectorOverTemp'), two('bmsComponentOverTemp'), two('chargingConnectorFault'),
        two('packOverTemp'), two('hvRelayFault'), two('cp2VoltageFault'), two('other'),
      ]),
      bits('errorReason', 1, [two('overCurrent'), two('voltageAbnormal'), ['reserved', 4]]),
    ] }],
  }),
  defineFrame({
    type: 0x21, name: 'chargerAbort', zh: '充电阶段充电机中止', en: 'charger abort (CST)', dir: 'up',
    layouts: [{ fields: [
      ...ids(),
      bits('stopReason', 1, [two('conditionReached'), two('manualStop'), two('faultStop'), two('bmsStopped')]),
      bits('faultReason', 2, [
        two('chargerOverTemp'), two('connectorFault'), two('chargerInternalOverTemp'), two('energyUndeliverable'),
        two('emergencyStop'), two('other'), ['reserved', 4],
      ]),
      bits('errorReason', 1, [two('currentMismatch'), two('voltageAbnormal'), ['reserved', 4]]),
    ] }],
  }),
  defineFrame({
    type: 0x23, name: 'bmsDemand', zh: 'BMS需求与充电机输出', en: 'BMS demand & charger output (BCL + BCS + CCS)', dir: 'up',
    layouts: [{ fields: [
      ...ids(),
      volts('demandVoltage'),
      bmsAmps('demandCurrent'),
      enumeration('chargeMode', 1, CHARGE_MODE),
      volts('measuredVoltage'),
      bmsAmps('measuredCurrent'),
      maxCell(),
      uint('soc', 1, { unit: '%' }),
      uint('remainingMinutes', 2, { unit: 'min' }),
      volts('chargerOutputVoltage'),
      bmsAmps('chargerOutputCurrent'),
      uint('chargingMinutes', 2, { unit: 'min' }),
    ] }],
  }),
  defineFrame({
    type: 0x25, name: 'bmsStatus', zh: '充电过程BMS信息', en: 'BMS status (BSM)', dir: 'up',
    layouts: [{ fields: [
      ...ids(),
      uint('maxCellVoltageNo', 1, { offset: 1 }),
      celsius('maxBatteryTemp'),
      uint('maxTempProbeNo', 1, { offset: 1 }),
      celsius('minBatteryTemp'),
      uint('minTempProbeNo', 1, { offset: 1 }),
      bits('status', 1, [two('cellVoltage'), two('soc'), two('overCurrent'), two('overTemp')], {
        values: 'cellVoltage/soc: 0 ok, 1 high, 2 low; overCurrent/overTemp: 0 ok, 1 abnormal, 2 untrustworthy',
      }),
      bits('status2', 1, [two('insulation'), two('outputConnector'), two('chargingPermitted'), ['reserved', 2]], {
        values: 'insulation/outputConnector: 0 ok, 1 abnormal, 2 untrustworthy; chargingPermitted: 0 forbidden, 1 allowed',
      }),
    ] }],
  }),
];

/** 0x23 byte 33–34: bits 0–11 highest cell voltage (0.01 V), bits 12–15 its group number. */
function maxCell(): Field {
  const volt = uint('maxCellVoltage', 2, { decimals: 2 });
  return {
    name: 'maxCellVoltage',
    width: 2,
    doc: { enc: 'BIN 2', unit: 'V', values: 'maxCellVoltage (bits 0–11, 0.01 V) and maxCellGroup (bits 12–15)' },
    decode(b, o, out) {
      const v = b[o] | (b[o + 1] << 8);
      out.maxCellVoltage = (v & 0xfff) / 100;
      out.maxCellGroup = v >>> 12;
    },
    gen(b, at, scope) {
      const v = scope.local();
      return { pre: `const ${v}=${b}[${at(0)}]|${b}[${at(1)}]<<8;`, props: [['maxCellVoltage', `(${v}&4095)/100`], ['maxCellGroup', `${v}>>>12`]] };
    },
    encode(b, o, body, ctx) {
      volt.encode(b, o, body, ctx);
      const raw = b[o] | (b[o + 1] << 8);
      if (raw > 0xfff) throw fieldError(ctx, 'maxCellVoltage', body.maxCellVoltage, 'is out of range 0…40.95');
      const group = body.maxCellGroup ?? 0;
      if (typeof group !== 'number' || !Number.isInteger(group) || group < 0 || group > 15) {
        throw fieldError(ctx, 'maxCellGroup', group, 'must be an integer from 0 to 15');
      }
      const v = raw | (group << 12);
      b[o] = v & 0xff;
      b[o + 1] = v >>> 8;
    },
  };
}
