/** Hand-built 0x01–0x0A, 0x57, 0x58 bodies from docs/protocol.md §5.1 (login, heartbeat, billing model). */
import { asciiHex, HandFixture, PILE, PILE_NO } from './support';

const slots = (...runs: Array<[number, number]>): number[] => runs.flatMap(([level, n]) => new Array<number>(n).fill(level));
// 00:00–08:00 valley, 08:00–11:00 flat, 11:00–15:00 peak, 15:00–18:00 sharp, 18:00–22:00 flat, 22:00–24:00 valley.
const SLOT_LEVELS = slots([3, 16], [2, 6], [1, 8], [0, 6], [2, 8], [3, 4]);
const SLOT_HEX = SLOT_LEVELS.map((l) => '0' + l).join(' ');

export const registrationFixtures: HandFixture[] = [
  {
    title: '0x01 login, DC pile, protocol 1.6, SIM network',
    type: 0x01,
    name: 'login',
    source: 'docs/protocol.md §5.1 0x01 table',
    seq: '0000',
    body: [
      PILE, // 0 pile number BCD 7
      '00', // 7 pile type 0x00 DC
      '02', // 8 gun count 2
      '10', // 9 protocol version ×10: 0x10 = 1.6
      '56 34 2E 31 2E 35 30 00', // 10 firmware "V4.1.50" + NUL
      '00', // 18 network 0x00 SIM
      '89 86 04 52 16 19 70 10 71 96', // 19 ICCID BCD 10
      '00', // 29 carrier 0x00 China Mobile
    ],
    expect: {
      pileNo: PILE_NO,
      pileType: 0,
      pileTypeName: 'DC',
      gunCount: 2,
      protocolVersion: 1.6,
      firmwareVersion: 'V4.1.50',
      networkType: 0,
      networkTypeName: 'SIM',
      iccid: '89860452161970107196',
      carrier: 0,
      carrierName: 'China Mobile',
    },
  },
  {
    title: '0x01 login, AC pile, protocol 1.5, 8-character firmware with no NUL, LAN, China Unicom',
    type: 0x01,
    name: 'login',
    source: 'docs/protocol.md §5.1 0x01 table, §6.6 network/carrier',
    seq: 'E891',
    body: [
      '12 34 56 20 23 03 78', // 0 pile 12345620230378
      '01', // 7 AC
      '01', // 8 one gun
      '0F', // 9 1.5
      asciiHex('V002.056', 8), // 10 firmware fills all 8 bytes
      '01', // 18 LAN
      '00 00 00 00 00 00 00 00 00 00', // 19 no SIM
      '03', // 29 China Unicom
    ],
    expect: {
      pileNo: '12345620230378',
      pileType: 1,
      pileTypeName: 'AC',
      gunCount: 1,
      protocolVersion: 1.5,
      firmwareVersion: 'V002.056',
      networkType: 1,
      networkTypeName: 'LAN',
      iccid: '00000000000000000000',
      carrier: 3,
      carrierName: 'China Unicom',
    },
  },
  {
    title: '0x01 login, unassigned carrier code 0x01 decodes as "unknown" and still round-trips',
    type: 0x01,
    name: 'login',
    source: 'docs/protocol.md §5.1 0x01 table (0x01 unassigned)',
    body: [PILE, '00', '02', '0F', asciiHex('1.10.23', 8), '03', '00 00 00 00 00 00 00 00 00 00', '01'],
    expect: {
      pileNo: PILE_NO,
      pileType: 0,
      pileTypeName: 'DC',
      gunCount: 2,
      protocolVersion: 1.5,
      firmwareVersion: '1.10.23',
      networkType: 3,
      networkTypeName: 'other',
      iccid: '00000000000000000000',
      carrier: 1,
      carrierName: 'unknown',
    },
  },
  {
    title: '0x02 login reply, accepted',
    type: 0x02,
    name: 'loginReply',
    source: 'docs/protocol.md §5.1 0x02',
    body: [PILE, '00'],
    expect: { pileNo: PILE_NO, result: 0, resultName: 'accepted' },
  },
  {
    title: '0x02 login reply, rejected',
    type: 0x02,
    name: 'loginReply',
    source: 'docs/protocol.md §5.1 0x02',
    body: [PILE, '01'],
    expect: { pileNo: PILE_NO, result: 1, resultName: 'rejected' },
  },
  {
    title: '0x03 heartbeat, gun 1 normal',
    type: 0x03,
    name: 'heartbeat',
    source: 'docs/protocol.md §5.1 0x03',
    body: [PILE, '01', '00'],
    expect: { pileNo: PILE_NO, gunNo: 1, gunState: 0, gunStateName: 'normal' },
  },
  {
    title: '0x03 heartbeat, BCD gun 12 in fault',
    type: 0x03,
    name: 'heartbeat',
    source: 'docs/protocol.md §3.1 (gun BCD 1), §5.1 0x03',
    body: [PILE, '12', '01'],
    expect: { pileNo: PILE_NO, gunNo: 12, gunState: 1, gunStateName: 'fault' },
  },
  {
    title: '0x03 heartbeat with one vendor byte appended: kept as extra',
    type: 0x03,
    name: 'heartbeat',
    source: 'docs/protocol.md §9 (易联桩 heartbeat +1 byte)',
    body: [PILE, '01', '00', '55'],
    expect: { pileNo: PILE_NO, gunNo: 1, gunState: 0, gunStateName: 'normal', extra: '55' },
  },
  {
    title: '0x04 heartbeat reply',
    type: 0x04,
    name: 'heartbeatReply',
    source: 'docs/protocol.md §5.1 0x04',
    body: [PILE, '02', '00'],
    expect: { pileNo: PILE_NO, gunNo: 2, reply: 0 },
  },
  {
    title: '0x05 billing-model check, model 0100',
    type: 0x05,
    name: 'billingModelCheck',
    source: 'docs/protocol.md §5.1 0x05',
    body: [PILE, '01 00'],
    expect: { pileNo: PILE_NO, modelCode: '0100' },
  },
  {
    title: '0x06 check reply, model 0062 differs',
    type: 0x06,
    name: 'billingModelCheckReply',
    source: 'docs/protocol.md §5.1 0x06',
    body: [PILE, '00 62', '01'],
    expect: { pileNo: PILE_NO, modelCode: '0062', result: 1, resultName: 'different' },
  },
  {
    title: '0x09 billing-model request',
    type: 0x09,
    name: 'billingModelRequest',
    source: 'docs/protocol.md §5.1 0x09',
    body: [PILE],
    expect: { pileNo: PILE_NO },
  },
  {
    title: '0x0A billing model: four levels, 48 half-hour slots',
    type: 0x0a,
    name: 'billingModel',
    source: 'docs/protocol.md §5.1 0x0A/0x58 table, §7',
    body: [
      PILE,
      '01 00', // 7 model code 0100
      '40 0D 03 00', // 9 sharp electricity 200000 → 2.00000 yuan/kWh (§7 worked model)
      '40 9C 00 00', // 13 sharp service 40000 → 0.40000
      'E0 93 04 00', // 17 peak electricity 300000 → 3.00000
      '50 C3 00 00', // 21 peak service 50000 → 0.50000
      '40 E2 01 00', // 25 flat electricity 123456 → 1.23456
      '01 00 00 00', // 29 flat service 1 → 0.00001
      'B8 88 00 00', // 33 valley electricity 35000 → 0.35000
      '00 00 00 00', // 37 valley service 0
      '00', // 41 loss ratio 0
      SLOT_HEX, // 42 48 slot levels
    ],
    expect: {
      pileNo: PILE_NO,
      modelCode: '0100',
      sharpElecPrice: 2,
      sharpServicePrice: 0.4,
      peakElecPrice: 3,
      peakServicePrice: 0.5,
      flatElecPrice: 1.23456,
      flatServicePrice: 0.00001,
      valleyElecPrice: 0.35,
      valleyServicePrice: 0,
      lossRatio: 0,
      slots: SLOT_LEVELS,
    },
  },
  {
    title: '0x57 model-push reply, success',
    type: 0x57,
    name: 'tariffSetReply',
    source: 'docs/protocol.md §5.1 0x57 (0x00 fail / 0x01 success)',
    body: [PILE, '01'],
    expect: { pileNo: PILE_NO, result: 1, resultName: 'ok' },
  },
  {
    title: '0x58 model push: largest 4-byte rate, all slots flat',
    type: 0x58,
    name: 'tariffSet',
    source: 'docs/protocol.md §5.1 0x0A/0x58 table',
    body: [
      PILE,
      '12 34', // model 1234
      'FF FF FF FF', // sharp electricity 4294967295 → 42949.67295 (largest rate)
      '00 00 00 00',
      'E0 93 04 00', // 3.00000
      '00 00 00 00',
      '40 0D 03 00', // 2.00000
      '00 00 00 00',
      '40 0D 03 00',
      '00 00 00 00',
      '00',
      new Array(48).fill('02').join(' '),
    ],
    expect: {
      pileNo: PILE_NO,
      modelCode: '1234',
      sharpElecPrice: 42949.67295,
      sharpServicePrice: 0,
      peakElecPrice: 3,
      peakServicePrice: 0,
      flatElecPrice: 2,
      flatServicePrice: 0,
      valleyElecPrice: 2,
      valleyServicePrice: 0,
      lossRatio: 0,
      slots: new Array(48).fill(2),
    },
  },
];
