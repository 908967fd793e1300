/** 0xA1–0xA4: parallel ("dual-gun") charging, V1.6 only (docs/protocol.md §5.7). */
import { enumeration } from '../fields';
import { MAIN_AUX } from '../enums';
import { defineFrame } from '../schema';
import { parallelNo } from './common';
import { cardStartRequestFields, remoteStartFields, remoteStartReplyFields, startAuthFields } from './operations';

const mainAux = () => enumeration('mainAux', 1, MAIN_AUX);

export const parallelFrames = [
  defineFrame({
    type: 0xa1, name: 'parallelStartRequest', zh: '充电桩主动申请并充充电', en: 'parallel start request', dir: 'up', reply: 0xa2, since: '1.6',
    layouts: [{ fields: [...cardStartRequestFields(), mainAux(), parallelNo()] }],
  }),
  defineFrame({
    type: 0xa2, name: 'parallelStartAuth', zh: '运营平台确认并充启动充电', en: 'parallel start authorisation', dir: 'down', answers: 0xa1, since: '1.6',
    layouts: [{ fields: [...startAuthFields(), parallelNo()] }],
  }),
  defineFrame({
    type: 0xa3, name: 'parallelRemoteStartReply', zh: '远程并充启机命令回复', en: 'parallel remote-start reply', dir: 'up', answers: 0xa4, since: '1.6',
    layouts: [{ fields: [...remoteStartReplyFields(), mainAux(), parallelNo()] }],
  }),
  defineFrame({
    type: 0xa4, name: 'parallelRemoteStart', zh: '运营平台远程控制并充启机', en: 'parallel remote start', dir: 'down', reply: 0xa3, since: '1.6',
    layouts: [{ fields: [...remoteStartFields(), parallelNo()] }],
  }),
];
