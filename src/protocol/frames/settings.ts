/** 0x51–0x56, 0x61–0x63, 0x91–0x94: working parameters, time, parking locks, reboot, OTA (docs/protocol.md §5.4–5.6). */
import { ascii, enumeration, uint } from '../fields';
import { cp56 } from '../cp56';
import { BAY_STATE, FAIL_OK, LOCK_ACTION, LOCK_ALARM, LOCK_RESULT, LOCK_STATE, OTA_STATUS, PILE_MODEL, RUN_WHEN, WORK_STATE } from '../enums';
import { reserved } from '../fields';
import { defineFrame } from '../schema';
import { pileNo } from './common';

/** 0x61–0x63 type the gun byte as BIN, unlike the BCD elsewhere (same byte for guns ≤ 9). */
const binGun = () => uint('gunNo', 1);

export const settingFrames = [
  defineFrame({
    type: 0x51, name: 'workParamsReply', zh: '充电桩工作参数设置应答', en: 'working-parameters reply', dir: 'up', answers: 0x52,
    layouts: [{ fields: [pileNo(), enumeration('result', 1, FAIL_OK)] }],
  }),
  defineFrame({
    type: 0x52, name: 'workParams', zh: '充电桩工作参数设置', en: 'working parameters', dir: 'down', reply: 0x51,
    layouts: [{ fields: [pileNo(), enumeration('workState', 1, WORK_STATE), uint('maxPowerPercent', 1, { unit: '%', values: '30–100 % of rated power' })] }],
  }),
  defineFrame({
    type: 0x55, name: 'timeSyncReply', zh: '对时设置应答', en: 'time-sync reply', dir: 'up', answers: 0x56,
    layouts: [{ fields: [pileNo(), cp56('time')] }],
  }),
  defineFrame({
    type: 0x56, name: 'timeSync', zh: '对时设置', en: 'time sync', dir: 'down', reply: 0x55,
    layouts: [{ fields: [pileNo(), cp56('time')] }],
  }),
  defineFrame({
    type: 0x61, name: 'lockStatus', zh: '地锁数据上送', en: 'parking-lock status', dir: 'up',
    layouts: [{ fields: [
      pileNo(),
      binGun(),
      enumeration('lockState', 1, LOCK_STATE),
      enumeration('parkingState', 1, BAY_STATE),
      uint('lockBattery', 1, { unit: '%' }),
      enumeration('alarm', 1, LOCK_ALARM),
      reserved('reserved', 4),
    ] }],
  }),
  defineFrame({
    type: 0x62, name: 'lockCommand', zh: '遥控地锁升锁与降锁', en: 'parking-lock command', dir: 'down', reply: 0x63,
    layouts: [{ fields: [pileNo(), binGun(), enumeration('action', 1, LOCK_ACTION), reserved('reserved', 4)] }],
  }),
  defineFrame({
    type: 0x63, name: 'lockCommandReply', zh: '充电桩返回数据', en: 'parking-lock command reply', dir: 'up', answers: 0x62,
    layouts: [{ fields: [pileNo(), binGun(), enumeration('result', 1, LOCK_RESULT), reserved('reserved', 4)] }],
  }),
  defineFrame({
    type: 0x91, name: 'rebootReply', zh: '远程重启应答', en: 'reboot reply', dir: 'up', answers: 0x92,
    layouts: [{ fields: [pileNo(), enumeration('result', 1, FAIL_OK)] }],
  }),
  defineFrame({
    type: 0x92, name: 'reboot', zh: '远程重启', en: 'remote reboot', dir: 'down', reply: 0x91,
    layouts: [{ fields: [pileNo(), enumeration('runWhen', 1, RUN_WHEN)] }],
  }),
  defineFrame({
    type: 0x93, name: 'otaReply', zh: '远程更新应答', en: 'remote-update reply', dir: 'up', answers: 0x94,
    layouts: [{ fields: [pileNo(), enumeration('status', 1, OTA_STATUS)] }],
  }),
  defineFrame({
    type: 0x94, name: 'ota', zh: '远程更新', en: 'remote update (FTP)', dir: 'down', reply: 0x93,
    layouts: [{ fields: [
      pileNo(),
      enumeration('pileModel', 1, PILE_MODEL),
      uint('pilePower', 2, { unit: 'kW' }),
      ascii('ftpHost', 16),
      uint('ftpPort', 2),
      ascii('ftpUser', 16),
      ascii('ftpPassword', 16, { secret: true, doc: { values: 'sent in clear text; masked in reports' } }),
      ascii('ftpPath', 32),
      enumeration('runWhen', 1, RUN_WHEN),
      uint('timeoutMinutes', 1, { unit: 'min' }),
    ] }],
  }),
];
