/**
 * Hand-built 0x51–0x56, 0x61–0x63, 0x91–0x94 (PROTOCOL.md §5.4–§5.6) and 0xA1–0xA4 (§5.7) bodies,
 * with the CP56Time2a edge cases of §3.2.
 */
import { asciiHex, HandFixture, PILE, PILE_NO, TRADE, TRADE_NO, VIN, VIN_REVERSED_HEX } from './support';

const CARD = '00 00 00 00 D1 4B 0A 54';
const CARD_NO = '00000000D14B0A54';
const LOGICAL = '00 00 00 10 00 00 05 73';
const LOGICAL_NO = '0000001000000573';
const PARALLEL = '25 10 10 11 06 33'; // yyMMddHHmmss 251010110633, BCD 6
const PARALLEL_NO = '251010110633';

export const settingFixtures: HandFixture[] = [
  {
    title: '0x51 working-parameters reply: ok',
    type: 0x51,
    name: 'workParamsReply',
    source: 'PROTOCOL.md §5.4 0x51',
    body: [PILE, '01'],
    expect: { pileNo: PILE_NO, result: 1, resultName: 'ok' },
  },
  {
    title: '0x52 working parameters: enabled, 80 % power',
    type: 0x52,
    name: 'workParams',
    source: 'PROTOCOL.md §5.4 0x52',
    body: [PILE, '00', '50'],
    expect: { pileNo: PILE_NO, workState: 0, workStateName: 'enabled', maxPowerPercent: 80 },
  },
  {
    title: '0x55 time-sync reply: the document\'s worked CP56 time',
    type: 0x55,
    name: 'timeSyncReply',
    source: 'PROTOCOL.md §3.2 worked example 98 B7 0E 11 10 03 14',
    body: [PILE, '98 B7 0E 11 10 03 14'],
    expect: { pileNo: PILE_NO, time: '2020-03-16 17:14:47' },
  },
  {
    title: '0x55 time-sync reply with the summer-time bit set (real piles set it): readable, marked " SU"',
    type: 0x55,
    name: 'timeSyncReply',
    source: 'PROTOCOL.md §3.2 (byte 3 bit 7 SU)',
    body: [PILE, '98 B7 0E 91 10 03 14'],
    expect: { pileNo: PILE_NO, time: '2020-03-16 17:14:47 SU' },
  },
  {
    title: '0x56 time sync with milliseconds',
    type: 0x56,
    name: 'timeSync',
    source: 'PROTOCOL.md §3.2 (bytes 0–1 ms within the minute)',
    body: [PILE, '9B B7 0E 11 10 03 14'], // 47003 ms
    expect: { pileNo: PILE_NO, time: '2020-03-16 17:14:47.003' },
  },
  {
    title: '0x56 time sync, all-zero time → null',
    type: 0x56,
    name: 'timeSync',
    source: 'PROTOCOL.md §3.2; cp56.ts contract',
    body: [PILE, '00 00 00 00 00 00 00'],
    expect: { pileNo: PILE_NO, time: null },
  },
  {
    title: '0x56 time sync with the IV (invalid) bit → "cp56:" form',
    type: 0x56,
    name: 'timeSync',
    source: 'PROTOCOL.md §3.2 (byte 2 bit 7 IV)',
    body: [PILE, '98 B7 8E 11 10 03 14'],
    expect: { pileNo: PILE_NO, time: 'cp56:98B78E11100314' },
  },
  {
    title: '0x56 time sync with a day of week set → "cp56:" form',
    type: 0x56,
    name: 'timeSync',
    source: 'PROTOCOL.md §3.2 (byte 4 bits 5–7)',
    body: [PILE, '98 B7 0E 11 30 03 14'],
    expect: { pileNo: PILE_NO, time: 'cp56:98B70E11300314' },
  },
  {
    title: '0x56 time sync with an impossible date (30 February) → "cp56:" form',
    type: 0x56,
    name: 'timeSync',
    source: 'PROTOCOL.md §3.2',
    body: [PILE, '00 00 00 00 1E 02 19'],
    expect: { pileNo: PILE_NO, time: 'cp56:000000001E0219' },
  },
  {
    title: '0x61 lock status: BIN gun 10, raised, occupied, 90 %',
    type: 0x61,
    name: 'lockStatus',
    source: 'PROTOCOL.md §5.5 0x61 (gun typed BIN)',
    body: [PILE, '0A', '55', 'FF', '5A', '00', '00 00 00 00'],
    expect: {
      pileNo: PILE_NO,
      gunNo: 10,
      lockState: 0x55,
      lockStateName: 'raised',
      parkingState: 0xff,
      parkingStateName: 'occupied',
      lockBattery: 90,
      alarm: 0,
      alarmName: 'none',
    },
  },
  {
    title: '0x61 lock status with an alarm and non-zero reserved bytes (shown, and kept)',
    type: 0x61,
    name: 'lockStatus',
    source: 'PROTOCOL.md §5.5 0x61',
    body: [PILE, '01', '00', '00', '64', 'FF', '01 02 03 04'],
    expect: {
      pileNo: PILE_NO,
      gunNo: 1,
      lockState: 0,
      lockStateName: 'moving',
      parkingState: 0,
      parkingStateName: 'empty',
      lockBattery: 100,
      alarm: 0xff,
      alarmName: 'arm damaged while standing by',
      reserved: '01020304',
    },
  },
  {
    title: '0x62 lock command: lower',
    type: 0x62,
    name: 'lockCommand',
    source: 'PROTOCOL.md §5.5 0x62',
    body: [PILE, '01', 'FF', '00 00 00 00'],
    expect: { pileNo: PILE_NO, gunNo: 1, action: 0xff, actionName: 'lower' },
  },
  {
    title: '0x63 lock command reply: success',
    type: 0x63,
    name: 'lockCommandReply',
    source: 'PROTOCOL.md §5.5 0x63',
    body: [PILE, '02', '01', '00 00 00 00'],
    expect: { pileNo: PILE_NO, gunNo: 2, result: 1, resultName: 'ok' },
  },
  {
    title: '0x91 reboot reply: ok',
    type: 0x91,
    name: 'rebootReply',
    source: 'PROTOCOL.md §5.6 0x91',
    body: [PILE, '01'],
    expect: { pileNo: PILE_NO, result: 1, resultName: 'ok' },
  },
  {
    title: '0x92 remote reboot when idle',
    type: 0x92,
    name: 'reboot',
    source: 'PROTOCOL.md §5.6 0x92',
    body: [PILE, '02'],
    expect: { pileNo: PILE_NO, runWhen: 2, runWhenName: 'when idle' },
  },
  {
    title: '0x93 update reply: download timed out',
    type: 0x93,
    name: 'otaReply',
    source: 'PROTOCOL.md §5.6 0x93',
    body: [PILE, '03'],
    expect: { pileNo: PILE_NO, status: 3, statusName: 'download timed out' },
  },
  {
    title: '0x94 remote update over FTP',
    type: 0x94,
    name: 'ota',
    source: 'PROTOCOL.md §5.6 0x94 table',
    body: [
      PILE,
      '02', // 7 AC
      '07 00', // 8 7 kW
      asciiHex('192.168.1.10', 16), // 10 host
      '49 08', // 26 port 2121
      asciiHex('ykc', 16), // 28 user
      asciiHex('secret', 16), // 44 password
      asciiHex('/fw/AC-7KW/v2.bin', 32), // 60 path
      '01', // 92 now
      '1E', // 93 30 min
    ],
    expect: {
      pileNo: PILE_NO,
      pileModel: 2,
      pileModelName: 'AC',
      pilePower: 7,
      ftpHost: '192.168.1.10',
      ftpPort: 2121,
      ftpUser: 'ykc',
      ftpPassword: 'secret',
      ftpPath: '/fw/AC-7KW/v2.bin',
      runWhen: 1,
      runWhenName: 'now',
      timeoutMinutes: 30,
    },
  },
  {
    title: '0xA1 parallel start request: auxiliary gun, byte-reversed VIN, parallel serial',
    type: 0xa1,
    name: 'parallelStartRequest',
    source: 'PROTOCOL.md §5.7 0xA1 (0x31 body + flag + serial)',
    body: [PILE, '02', '03', '00', '00 00 00 00 00 00 00 00', '00'.repeat(16), VIN_REVERSED_HEX, '01', PARALLEL],
    expect: {
      pileNo: PILE_NO,
      gunNo: 2,
      startMethod: 3,
      startMethodName: 'VIN',
      passwordRequired: 0,
      passwordRequiredName: 'no',
      physicalCardNo: '0000000000000000',
      password: '00000000000000000000000000000000',
      vin: VIN,
      mainAux: 1,
      mainAuxName: 'auxiliary',
      parallelNo: PARALLEL_NO,
    },
  },
  {
    title: '0xA2 parallel authorisation: accepted',
    type: 0xa2,
    name: 'parallelStartAuth',
    source: 'PROTOCOL.md §5.7 0xA2 (0x32 body + serial)',
    body: [TRADE, PILE, '01', LOGICAL, 'A0 86 01 00', '01', '00', PARALLEL],
    expect: {
      tradeNo: TRADE_NO,
      pileNo: PILE_NO,
      gunNo: 1,
      logicalCardNo: LOGICAL_NO,
      balance: 1000,
      result: 1,
      resultName: 'accepted',
      failReason: 0,
      failReasonName: 'none',
      parallelNo: PARALLEL_NO,
    },
  },
  {
    title: '0xA3 parallel remote-start reply: main gun started',
    type: 0xa3,
    name: 'parallelRemoteStartReply',
    source: 'PROTOCOL.md §5.7 0xA3 (0x33 body + flag + serial)',
    body: [TRADE, PILE, '01', '01', '00', '00', PARALLEL],
    expect: {
      tradeNo: TRADE_NO,
      pileNo: PILE_NO,
      gunNo: 1,
      result: 1,
      resultName: 'started',
      failReason: 0,
      failReasonName: 'none',
      mainAux: 0,
      mainAuxName: 'main',
      parallelNo: PARALLEL_NO,
    },
  },
  {
    title: '0xA4 parallel remote start',
    type: 0xa4,
    name: 'parallelRemoteStart',
    source: 'PROTOCOL.md §5.7 0xA4 (0x34 body + serial)',
    body: [TRADE, PILE, '01', LOGICAL, CARD, 'A0 86 01 00', PARALLEL],
    expect: { tradeNo: TRADE_NO, pileNo: PILE_NO, gunNo: 1, logicalCardNo: LOGICAL_NO, physicalCardNo: CARD_NO, balance: 1000, parallelNo: PARALLEL_NO },
  },
];
