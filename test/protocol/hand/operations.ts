/**
 * Hand-built 0x31–0x48 bodies from docs/protocol.md §5.3 (starts, stops, records, balances, offline
 * cards), the 5-tier 0x3B variant and the 1.7 record 0x3D of §9.
 */
import { HandFixture, PILE, PILE_NO, TRADE, TRADE_NO, VIN, VIN_HEX, VIN_REVERSED_HEX } from './support';

const ZERO8 = '00 00 00 00 00 00 00 00';
const ZERO16 = ZERO8 + ' ' + ZERO8;
const CARD = '00 00 00 00 D1 4B 0A 54'; // UID D14B0A54, right-aligned, reading order (§3.1)
const CARD_NO = '00000000D14B0A54';
const LOGICAL = '00 00 00 10 00 00 05 73'; // logical card 0000001000000573 (BCD 8)
const LOGICAL_NO = '0000001000000573';

/** n physical cards 00000000D14B0A01, …02, … written as hex, and their decoded form. */
function cards(n: number): { hex: string[]; nos: string[] } {
  const hex: string[] = [];
  const nos: string[] = [];
  for (let k = 1; k <= n; k++) {
    const kk = k.toString(16).toUpperCase().padStart(2, '0');
    hex.push(`00 00 00 00 D1 4B 0A ${kk}`);
    nos.push(`00000000D14B0A${kk}`);
  }
  return { hex, nos };
}

/** Logical card number k as BCD 8 (0000000010000001 …) in hex and decoded. */
function logical(k: number): { hex: string; no: string } {
  const no = '00000000100000' + String(k).padStart(2, '0');
  return { hex: no.replace(/(..)/g, '$1 ').trim(), no };
}

/** One 0x3B price block: price 0.00001 yuan/kWh, energy and loss energy 0.0001 kWh, amount 0.0001 yuan. */
const LEVEL_KEYS = (l: string) => [`${l}Price`, `${l}Energy`, `${l}LossEnergy`, `${l}Amount`];
function block(level: string, values: [number, number, number, number]): Record<string, number> {
  const o: Record<string, number> = {};
  LEVEL_KEYS(level).forEach((k, i) => (o[k] = values[i]));
  return o;
}

const RECORD_HEAD = [
  TRADE, // 0 trade number
  PILE, // 16 pile
  '01', // 23 gun
  'E8 80 06 0B 0A 0A 19', // 24 start: 33000 ms → :33, min 6, hour 11, day 10, month 10, year 25 (§3.2 real example)
  'DC 82 24 0C 0A 0A 19', // 31 end: 33500 ms → 33.500 s, 12:36, 2025-10-10
];
const RECORD_HEAD_EXPECT = {
  tradeNo: TRADE_NO,
  pileNo: PILE_NO,
  gunNo: 1,
  startTime: '2025-10-10 11:06:33',
  endTime: '2025-10-10 12:36:33.500',
};
const RECORD_LEVELS = [
  'C0 D4 01 00  10 27 00 00  10 27 00 00  E0 2E 00 00', // 38 sharp: 1.20000 yuan/kWh, 1.0000 kWh, 1.0000 kWh, 1.2000 yuan
  '18 73 01 00  A8 61 00 00  A8 61 00 00  C6 5C 00 00', // 54 peak: 0.95000, 2.5000, 2.5000, 2.3750
  '70 11 01 00  00 00 00 00  00 00 00 00  00 00 00 00', // 70 flat: 0.70000, nothing used
  'A8 5B 01 00  73 75 00 00  73 75 00 00  87 68 00 00', // 86 valley: 0.89000, 3.0067, 3.0067, 2.6759 (§5.3 real example)
];
const RECORD_LEVELS_EXPECT = {
  ...block('sharp', [1.2, 1, 1, 1.2]),
  ...block('peak', [0.95, 2.5, 2.5, 2.375]),
  ...block('flat', [0.7, 0, 0, 0]),
  ...block('valley', [0.89, 3.0067, 3.0067, 2.6759]),
};
const RECORD_TAIL = (meterEnd: string, total: string, amount: string) => [
  '15 CD 5B 07 00', // meter at start 123456789 → 12345.6789 kWh (5 bytes)
  meterEnd, // meter at end
  total, // total energy
  total, // total loss-adjusted energy
  amount, // total amount
  VIN_HEX, // VIN, normal order in the record
  '01', // start type app
  '40 9C 24 0C 0A 0A 19', // transaction time 2025-10-10 12:36:40
  '45', // stop reason 0x45 stopped manually
  ZERO8, // no physical card
];
const RECORD_TAIL_EXPECT = {
  meterStart: 12345.6789,
  vin: VIN,
  startType: 1,
  startTypeName: 'app',
  tradeTime: '2025-10-10 12:36:40',
  stopReason: 0x45,
  stopReasonName: 'stopped manually at the pile',
  physicalCardNo: '0000000000000000',
};

const c1 = cards(1);
const c15 = cards(15);
const c24 = cards(24);
const c26 = cards(26);

export const operationFixtures: HandFixture[] = [
  {
    title: '0x31 pile start request by VIN: the VIN arrives byte-reversed and decodes in normal order',
    type: 0x31,
    name: 'cardStartRequest',
    source: 'docs/protocol.md §5.3 0x31 table, §3.1 VIN',
    body: [
      PILE,
      '01', // 7 gun
      '03', // 8 start method VIN
      '00', // 9 no password
      ZERO8, // 10 no card
      ZERO16, // 18 no password
      VIN_REVERSED_HEX, // 34 "6543210M5BC4ECXGL" on the wire
    ],
    expect: {
      pileNo: PILE_NO,
      gunNo: 1,
      startMethod: 3,
      startMethodName: 'VIN',
      passwordRequired: 0,
      passwordRequiredName: 'no',
      physicalCardNo: '0000000000000000',
      password: '00000000000000000000000000000000',
      vin: VIN,
    },
  },
  {
    title: '0x31 pile start request by card with password',
    type: 0x31,
    name: 'cardStartRequest',
    source: 'docs/protocol.md §5.3 0x31 table',
    body: [
      PILE,
      '02',
      '01', // card
      '01', // password required
      CARD,
      '65 31 30 61 64 63 33 39 34 39 62 61 35 39 61 62', // ASCII "e10adc3949ba59ab" (short MD5 text), kept as hex
      '00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00',
    ],
    expect: {
      pileNo: PILE_NO,
      gunNo: 2,
      startMethod: 1,
      startMethodName: 'card',
      passwordRequired: 1,
      passwordRequiredName: 'yes',
      physicalCardNo: CARD_NO,
      password: '65313061646333393439626135396162',
      vin: '',
    },
  },
  {
    title: '0x32 start authorisation, accepted with balance 1000.00 yuan',
    type: 0x32,
    name: 'startAuth',
    source: 'docs/protocol.md §5.3 0x32',
    body: [TRADE, PILE, '01', LOGICAL, 'A0 86 01 00' /* 100000 × 0.01 */, '01', '00'],
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
    },
  },
  {
    title: '0x32 start authorisation, refused: pile does not accept cards (0x0B, binary)',
    type: 0x32,
    name: 'startAuth',
    source: 'docs/protocol.md §5.3 0x32, §6.4, §10 #12',
    body: [TRADE, PILE, '01', LOGICAL, '00 00 00 00', '00', '0B'],
    expect: {
      tradeNo: TRADE_NO,
      pileNo: PILE_NO,
      gunNo: 1,
      logicalCardNo: LOGICAL_NO,
      balance: 0,
      result: 0,
      resultName: 'refused',
      failReason: 11,
      failReasonName: 'pile does not accept cards',
    },
  },
  {
    title: '0x33 remote-start reply: failed, gun not plugged in',
    type: 0x33,
    name: 'remoteStartReply',
    source: 'docs/protocol.md §5.3 0x33',
    body: [TRADE, PILE, '01', '00', '05'],
    expect: { tradeNo: TRADE_NO, pileNo: PILE_NO, gunNo: 1, result: 0, resultName: 'failed', failReason: 5, failReasonName: 'gun not plugged in' },
  },
  {
    title: '0x34 remote start with card and balance 12.34 yuan',
    type: 0x34,
    name: 'remoteStart',
    source: 'docs/protocol.md §5.3 0x34',
    body: [TRADE, PILE, '01', LOGICAL, CARD, 'D2 04 00 00' /* 1234 × 0.01 */],
    expect: { tradeNo: TRADE_NO, pileNo: PILE_NO, gunNo: 1, logicalCardNo: LOGICAL_NO, physicalCardNo: CARD_NO, balance: 12.34 },
  },
  {
    title: '0x35 remote-stop reply: failed, gun not charging',
    type: 0x35,
    name: 'remoteStopReply',
    source: 'docs/protocol.md §5.3 0x35',
    body: [PILE, '01', '00', '02'],
    expect: { pileNo: PILE_NO, gunNo: 1, result: 0, resultName: 'failed', failReason: 2, failReasonName: 'gun not charging' },
  },
  {
    title: '0x36 remote stop',
    type: 0x36,
    name: 'remoteStop',
    source: 'docs/protocol.md §5.3 0x36',
    body: [PILE, '02'],
    expect: { pileNo: PILE_NO, gunNo: 2 },
  },
  {
    title: '0x3B transaction record: four price blocks, 5-byte meters, CP56 with milliseconds',
    type: 0x3b,
    name: 'transactionRecord',
    source: 'docs/protocol.md §5.3 0x3B table, §3.2 CP56Time2a, §7',
    body: [...RECORD_HEAD, ...RECORD_LEVELS, ...RECORD_TAIL('40 CB 5C 07 00' /* 123521856 */, '2B FE 00 00' /* 65067 */, '2D F4 00 00' /* 62509 */)],
    expect: {
      ...RECORD_HEAD_EXPECT,
      ...RECORD_LEVELS_EXPECT,
      ...RECORD_TAIL_EXPECT,
      meterEnd: 12352.1856,
      totalEnergy: 6.5067,
      totalLossEnergy: 6.5067,
      totalAmount: 6.2509,
    },
  },
  {
    title: '0x3B record of a failed card start: no times (null), largest 5-byte meter reading',
    type: 0x3b,
    name: 'transactionRecord',
    source: 'docs/protocol.md §5.3 0x3B, §6.1 (0x4E insufficient balance), §8.6',
    body: [
      TRADE,
      PILE,
      '01',
      '00 00 00 00 00 00 00', // no start time
      '00 00 00 00 00 00 00', // no end time
      ...new Array(16).fill('00 00 00 00'),
      'FF FF FF FF FF', // meter start 1099511627775 → 109951162.7775 kWh
      'FF FF FF FF FF',
      '00 00 00 00',
      '00 00 00 00',
      '00 00 00 00',
      '00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00', // no VIN
      '02', // card
      '00 00 00 00 00 00 00',
      '4E', // insufficient balance
      CARD,
    ],
    expect: {
      tradeNo: TRADE_NO,
      pileNo: PILE_NO,
      gunNo: 1,
      startTime: null,
      endTime: null,
      ...block('sharp', [0, 0, 0, 0]),
      ...block('peak', [0, 0, 0, 0]),
      ...block('flat', [0, 0, 0, 0]),
      ...block('valley', [0, 0, 0, 0]),
      meterStart: 109951162.7775,
      meterEnd: 109951162.7775,
      totalEnergy: 0,
      totalLossEnergy: 0,
      totalAmount: 0,
      vin: '',
      startType: 2,
      startTypeName: 'card',
      tradeTime: null,
      stopReason: 0x4e,
      stopReasonName: 'insufficient balance',
      physicalCardNo: CARD_NO,
    },
  },
  {
    title: '0x3B 5-tier variant (L = 0xB2): a deep-valley block after valley',
    type: 0x3b,
    name: 'transactionRecord',
    source: 'docs/protocol.md §9 variants (5-tier record, lambda-cloud-parent)',
    body: [
      ...RECORD_HEAD,
      ...RECORD_LEVELS,
      '30 75 00 00  98 3A 00 00  98 3A 00 00  94 11 00 00', // 102 deep valley: 0.30000, 1.5000, 1.5000, 0.4500
      ...RECORD_TAIL('D8 05 5D 07 00' /* 123536856 */, 'C3 38 01 00' /* 80067 */, 'C1 05 01 00' /* 67009 */),
    ],
    expect: {
      ...RECORD_HEAD_EXPECT,
      ...RECORD_LEVELS_EXPECT,
      ...block('deepValley', [0.3, 1.5, 1.5, 0.45]),
      ...RECORD_TAIL_EXPECT,
      meterEnd: 12353.6856,
      totalEnergy: 8.0067,
      totalLossEnergy: 8.0067,
      totalAmount: 6.7009,
      variant: '5-tier',
    },
  },
  {
    title: '0x3B record of a JCPP-style pile: weekday on all three times, summer-time bit on the transaction time',
    type: 0x3b,
    name: 'transactionRecord',
    source: 'docs/protocol.md §3.2 (byte 4 bits 5–7: 2025-10-10 is a Friday, 5 → day byte 0x0A|0xA0), §5.3 0x3B',
    body: [
      TRADE,
      PILE,
      '01',
      'E8 80 06 0B AA 0A 19', // start 2025-10-10 11:06:33, weekday 5
      'DC 82 24 0C AA 0A 19', // end 2025-10-10 12:36:33.500, weekday 5
      ...RECORD_LEVELS,
      ...RECORD_TAIL('40 CB 5C 07 00', '2B FE 00 00', '2D F4 00 00').map((p) => (p === '40 9C 24 0C 0A 0A 19' ? '40 9C 24 8C AA 0A 19' : p)),
    ],
    expect: {
      ...RECORD_HEAD_EXPECT,
      ...RECORD_LEVELS_EXPECT,
      ...RECORD_TAIL_EXPECT,
      meterEnd: 12352.1856,
      totalEnergy: 6.5067,
      totalLossEnergy: 6.5067,
      totalAmount: 6.2509,
      startTimeWeekday: 5,
      endTimeWeekday: 5,
      tradeTimeWeekday: 5,
      tradeTimeSummerTime: true,
    },
  },
  ...([
    [0x3f, 'transactionRecordV14', '1.4'],
    [0x39, 'transactionRecordV12', '1.2–1.3'],
  ] as const).map(([type, name, version]) => ({
    title: `0x${type.toString(16).toUpperCase()} ${version} record: the 0x3B layout with 4-byte meter readings (body 156)`,
    type,
    name,
    source: 'Protocol notes §9 (1.4 → 1.5: type code and meter width changed; 4-byte meters inferred from the 0x39 derivative)',
    body: [
      ...RECORD_HEAD,
      ...RECORD_LEVELS,
      '15 CD 5B 07', // 110 meter at start 123456789 → 12345.6789 kWh, 4 bytes
      '40 CB 5C 07', // 114 meter at end 123521856 → 12352.1856 kWh
      ...RECORD_TAIL('', '2B FE 00 00', '2D F4 00 00').slice(2), // 118 totals, VIN, start type, time, reason, card
    ],
    expect: {
      ...RECORD_HEAD_EXPECT,
      ...RECORD_LEVELS_EXPECT,
      ...RECORD_TAIL_EXPECT,
      meterEnd: 12352.1856,
      totalEnergy: 6.5067,
      totalLossEnergy: 6.5067,
      totalAmount: 6.2509,
    },
  })),
  {
    title: '0x3D 1.7 record: meter number, ciphertext, meter protocol and encryption after the end time',
    type: 0x3d,
    name: 'transactionRecordV17',
    source: 'docs/protocol.md §9 (1.7: 43 bytes inserted at body offset 38)',
    body: [
      ...RECORD_HEAD,
      '00 00 12 34 56 78', // 38 meter number BCD 6
      Array.from({ length: 34 }, (_, i) => (0xa0 + i).toString(16)).join(' '), // 44 ciphertext A0 A1 … C1
      '02 01', // 78 meter protocol version 0x0102 = 258
      '01', // 80 encryption method 1
      ...RECORD_LEVELS,
      ...RECORD_TAIL('40 CB 5C 07 00', '2B FE 00 00', '2D F4 00 00'),
    ],
    expect: {
      ...RECORD_HEAD_EXPECT,
      meterNo: '000012345678',
      meterCiphertext: Array.from({ length: 34 }, (_, i) => (0xa0 + i).toString(16).toUpperCase()).join(''),
      meterProtocolVersion: 258,
      meterEncryption: 1,
      ...RECORD_LEVELS_EXPECT,
      ...RECORD_TAIL_EXPECT,
      meterEnd: 12352.1856,
      totalEnergy: 6.5067,
      totalLossEnergy: 6.5067,
      totalAmount: 6.2509,
    },
  },
  {
    title: '0x40 record ack: received',
    type: 0x40,
    name: 'recordAck',
    source: 'docs/protocol.md §5.3 0x40',
    body: [TRADE, '00'],
    expect: { tradeNo: TRADE_NO, result: 0, resultName: 'received' },
  },
  {
    title: '0x40 record ack: illegal record',
    type: 0x40,
    name: 'recordAck',
    source: 'docs/protocol.md §5.3 0x40',
    body: [TRADE, '01'],
    expect: { tradeNo: TRADE_NO, result: 1, resultName: 'illegal record' },
  },
  {
    title: '0x41 balance-update reply: card number wrong (no gun field)',
    type: 0x41,
    name: 'balanceUpdateReply',
    source: 'docs/protocol.md §5.3 0x41',
    body: [PILE, CARD, '02'],
    expect: { pileNo: PILE_NO, physicalCardNo: CARD_NO, result: 2, resultName: 'card number wrong' },
  },
  {
    title: '0x42 balance update: 0.01 yuan for the current user',
    type: 0x42,
    name: 'balanceUpdate',
    source: 'docs/protocol.md §5.3 0x42',
    body: [PILE, '01', ZERO8, '01 00 00 00'],
    expect: { pileNo: PILE_NO, gunNo: 1, physicalCardNo: '0000000000000000', balance: 0.01 },
  },
  {
    title: '0x43 sync reply: failed, storage full',
    type: 0x43,
    name: 'cardSyncReply',
    source: 'docs/protocol.md §5.3 0x43',
    body: [PILE, '00', '02'],
    expect: { pileNo: PILE_NO, result: 0, resultName: 'failed', failReason: 2, failReasonName: 'storage full' },
  },
  {
    title: '0x44 offline-card sync with 0 cards',
    type: 0x44,
    name: 'cardSync',
    source: 'docs/protocol.md §5.3 0x44 (8 + 16n)',
    body: [PILE, '00'],
    expect: { pileNo: PILE_NO, cards: [] },
  },
  {
    title: '0x44 offline-card sync with 1 card',
    type: 0x44,
    name: 'cardSync',
    source: 'docs/protocol.md §5.3 0x44',
    body: [PILE, '01', LOGICAL, CARD],
    expect: { pileNo: PILE_NO, cards: [{ logicalCardNo: LOGICAL_NO, physicalCardNo: CARD_NO }] },
  },
  {
    title: '0x44 offline-card sync with the maximum 15 cards (248-byte body)',
    type: 0x44,
    name: 'cardSync',
    source: 'docs/protocol.md §5.3 0x44 (n ≤ 15), §10 #9',
    body: [PILE, '0F', ...c15.hex.map((h, k) => logical(k + 1).hex + ' ' + h)],
    expect: { pileNo: PILE_NO, cards: c15.nos.map((p, k) => ({ logicalCardNo: logical(k + 1).no, physicalCardNo: p })) },
  },
  {
    title: '0x45 clear reply with 0 cards',
    type: 0x45,
    name: 'cardClearReply',
    source: 'docs/protocol.md §5.3 0x45 (7 + 10n, no count byte)',
    body: [PILE],
    expect: { pileNo: PILE_NO, cards: [] },
  },
  {
    title: '0x45 clear reply with 1 card: not cleared, card number format error',
    type: 0x45,
    name: 'cardClearReply',
    source: 'docs/protocol.md §5.3 0x45, §10 #8',
    body: [PILE, CARD, '00', '01'],
    expect: { pileNo: PILE_NO, cards: [{ physicalCardNo: CARD_NO, result: 0, resultName: 'not cleared', failReason: 1, failReasonName: 'card number format error' }] },
  },
  {
    title: '0x45 clear reply with 24 cards (answer to a full 0x46)',
    type: 0x45,
    name: 'cardClearReply',
    source: 'docs/protocol.md §5.3 0x45/0x46',
    body: [PILE, ...c24.hex.map((h) => h + ' 01 00')],
    expect: { pileNo: PILE_NO, cards: c24.nos.map((p) => ({ physicalCardNo: p, result: 1, resultName: 'cleared', failReason: 0, failReasonName: 'cleared' })) },
  },
  {
    title: '0x46 offline-card clear with 0 cards',
    type: 0x46,
    name: 'cardClear',
    source: 'docs/protocol.md §5.3 0x46 (8 + 8n)',
    body: [PILE, '00'],
    expect: { pileNo: PILE_NO, cards: [] },
  },
  {
    title: '0x46 offline-card clear with 1 card',
    type: 0x46,
    name: 'cardClear',
    source: 'docs/protocol.md §5.3 0x46',
    body: [PILE, '01', ...c1.hex],
    expect: { pileNo: PILE_NO, cards: c1.nos.map((p) => ({ physicalCardNo: p })) },
  },
  {
    title: '0x46 offline-card clear with the maximum 24 cards',
    type: 0x46,
    name: 'cardClear',
    source: 'docs/protocol.md §5.3 0x46 (n ≤ 24)',
    body: [PILE, '18', ...c24.hex],
    expect: { pileNo: PILE_NO, cards: c24.nos.map((p) => ({ physicalCardNo: p })) },
  },
  {
    title: '0x47 query reply with 0 cards',
    type: 0x47,
    name: 'cardQueryReply',
    source: 'docs/protocol.md §5.3 0x47 (7 + 9n, no count byte)',
    body: [PILE],
    expect: { pileNo: PILE_NO, cards: [] },
  },
  {
    title: '0x47 query reply with 1 card, stored',
    type: 0x47,
    name: 'cardQueryReply',
    source: 'docs/protocol.md §5.3 0x47',
    body: [PILE, CARD, '01'],
    expect: { pileNo: PILE_NO, cards: [{ physicalCardNo: CARD_NO, result: 1, resultName: 'stored' }] },
  },
  {
    title: '0x47 query reply with 26 cards (answer to a full 0x48)',
    type: 0x47,
    name: 'cardQueryReply',
    source: 'docs/protocol.md §5.3 0x47/0x48',
    body: [PILE, ...c26.hex.map((h, k) => h + (k % 2 ? ' 01' : ' 00'))],
    expect: { pileNo: PILE_NO, cards: c26.nos.map((p, k) => ({ physicalCardNo: p, result: k % 2, resultName: k % 2 ? 'stored' : 'not stored' })) },
  },
  {
    title: '0x48 offline-card query with 0 cards',
    type: 0x48,
    name: 'cardQuery',
    source: 'docs/protocol.md §5.3 0x48 (8 + 8n)',
    body: [PILE, '00'],
    expect: { pileNo: PILE_NO, cards: [] },
  },
  {
    title: '0x48 offline-card query with 1 card',
    type: 0x48,
    name: 'cardQuery',
    source: 'docs/protocol.md §5.3 0x48',
    body: [PILE, '01', CARD],
    expect: { pileNo: PILE_NO, cards: [{ physicalCardNo: CARD_NO }] },
  },
  {
    title: '0x48 offline-card query with the maximum 26 cards (216-byte body)',
    type: 0x48,
    name: 'cardQuery',
    source: 'docs/protocol.md §5.3 0x48 (n ≤ 26), §10 #9',
    body: [PILE, '1A', ...c26.hex],
    expect: { pileNo: PILE_NO, cards: c26.nos.map((p) => ({ physicalCardNo: p })) },
  },
];
