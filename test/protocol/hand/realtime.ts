/** Hand-built 0x12–0x25 bodies from docs/protocol.md §5.2 (realtime data, GB/T 27930 BMS frames), §6.3, §6.5. */
import { asciiHex, HandFixture, PILE, PILE_NO, TRADE, TRADE_NO, VIN, VIN_HEX } from './support';

const IDS = [TRADE, PILE, '01']; // trade number BCD 16 · pile BCD 7 · gun BCD 1
const IDS_EXPECT = { tradeNo: TRADE_NO, pileNo: PILE_NO, gunNo: 1 };

export const realtimeFixtures: HandFixture[] = [
  {
    title: '0x12 read realtime, BCD gun 12',
    type: 0x12,
    name: 'readRealtime',
    source: 'docs/protocol.md §5.2 0x12, §3.1 gun BCD',
    body: [PILE, '12'],
    expect: { pileNo: PILE_NO, gunNo: 12 },
  },
  {
    title: '0x13 realtime while charging: scaled values, temperatures +50, two fault bits',
    type: 0x13,
    name: 'realtime',
    source: 'docs/protocol.md §5.2 0x13 table, §6.3 fault bitmap',
    body: [
      ...IDS,
      '03', // 24 gun state charging
      '00', // 25 not holstered
      '01', // 26 plugged in
      '94 0E', // 27 3732 × 0.1 V = 373.2 V
      'F4 03', // 29 1012 × 0.1 A = 101.2 A
      '55', // 31 0x55 = 85 → 35 °C
      '00 00 00 00 00 00 00 00', // 32 gun-cable code
      '4E', // 40 SOC 78 %
      '4E', // 41 78 → 28 °C
      '2D 00', // 42 45 min charged
      '1E 00', // 44 30 min left
      'C0 57 01 00', // 46 88000 × 0.0001 = 8.8 kWh
      'C0 57 01 00', // 50 loss-adjusted, same
      '60 6C 01 00', // 54 93280 × 0.0001 = 9.328 yuan
      '01 10', // 58 bits 0 and 12: emergency stop, door open
    ],
    expect: {
      ...IDS_EXPECT,
      gunState: 3,
      gunStateName: 'charging',
      gunHolstered: 0,
      gunHolsteredName: 'no',
      gunPlugged: 1,
      gunPluggedName: 'yes',
      outputVoltage: 373.2,
      outputCurrent: 101.2,
      gunTemp: 35,
      gunCableCode: '0000000000000000',
      soc: 78,
      batteryMaxTemp: 28,
      chargingMinutes: 45,
      remainingMinutes: 30,
      chargedEnergy: 8.8,
      lossEnergy: 8.8,
      chargedAmount: 9.328,
      hardwareFault: 0x1001,
      hardwareFaults: ['emergencyStop', 'doorOpen'],
    },
  },
  {
    title: '0x13 realtime in standby: temperature byte 0 means "n/a" (null), 1 means −49 °C; unnamed fault bits',
    type: 0x13,
    name: 'realtime',
    source: 'docs/protocol.md §5.2 0x13 ("0 in standby"), §3.3 temperatures, §6.3 bits 13–15 unused',
    body: [
      '00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00', // no session
      PILE,
      '02', // gun 2
      '02', // idle
      '01', // holstered
      '00', // not plugged
      '00 00',
      '00 00',
      '01', // gun temperature raw 1 → −49 °C
      '01 02 03 04 05 06 07 08', // gun-cable code kept as hex
      '00',
      '00', // battery temperature raw 0 → null
      '00 00',
      '00 00',
      '00 00 00 00',
      '00 00 00 00',
      '00 00 00 00',
      '00 E0', // bits 13, 14, 15
    ],
    expect: {
      tradeNo: '00000000000000000000000000000000',
      pileNo: PILE_NO,
      gunNo: 2,
      gunState: 2,
      gunStateName: 'idle',
      gunHolstered: 1,
      gunHolsteredName: 'yes',
      gunPlugged: 0,
      gunPluggedName: 'no',
      outputVoltage: 0,
      outputCurrent: 0,
      gunTemp: -49,
      gunCableCode: '0102030405060708',
      soc: 0,
      batteryMaxTemp: null,
      chargingMinutes: 0,
      remainingMinutes: 0,
      chargedEnergy: 0,
      lossEnergy: 0,
      chargedAmount: 0,
      hardwareFault: 0xe000,
      hardwareFaults: ['bit13', 'bit14', 'bit15'],
    },
  },
  {
    title: '0x15 charging handshake (BRM): battery type, year +1985, 3-byte cycle count, VIN',
    type: 0x15,
    name: 'bmsHandshake',
    source: 'docs/protocol.md §5.2 0x15 table, §6.6 battery types',
    body: [
      ...IDS,
      '01 01 00', // 24 BMS protocol V1.1
      '03', // 27 LiFePO4
      'DC 05', // 28 1500 × 0.1 Ah = 150 Ah
      '00 15', // 30 5376 × 0.1 V = 537.6 V
      asciiHex('BYDB', 4), // 32 maker
      '01 02 03 04', // 36 pack serial
      '24', // 40 36 + 1985 = 2021
      '05', // 41 May
      '1C', // 42 28th
      'D2 04 00', // 43 1234 cycles
      '01', // 46 vehicle-owned
      '00', // 47 reserved
      VIN_HEX, // 48 VIN, normal order
      '01 0F 06 E5 07 FF FF FF', // 65 software version, kept as bytes
    ],
    expect: {
      ...IDS_EXPECT,
      bmsProtocolVersion: '010100',
      batteryType: 3,
      batteryTypeName: 'LiFePO4',
      ratedCapacity: 150,
      ratedVoltage: 537.6,
      batteryMaker: 'BYDB',
      batteryPackSerial: '01020304',
      productionYear: 2021,
      productionMonth: 5,
      productionDay: 28,
      chargeCycles: 1234,
      ownership: 1,
      ownershipName: 'vehicle-owned',
      reserved: '00',
      vin: VIN,
      bmsSoftwareVersion: '010F06E507FFFFFF',
    },
  },
  {
    title: '0x17 parameter configuration (BCP + CML): 0.01 V cells, −400 A current offset, 0.1 % SOC',
    type: 0x17,
    name: 'bmsParams',
    source: 'docs/protocol.md §5.2 0x17 table, §3.3',
    body: [
      ...IDS,
      'A4 01', // 24 420 × 0.01 = 4.20 V
      'DC 05', // 26 1500 × 0.1 − 400 = −250 A
      'EE 02', // 28 750 × 0.1 = 75 kWh
      '4C 1D', // 30 750.0 V
      '69', // 32 105 − 50 = 55 °C
      'C8 01', // 33 456 × 0.1 = 45.6 %
      '3D 18', // 35 620.5 V
      '10 27', // 37 1000.0 V
      'D0 07', // 39 200.0 V
      '64 19', // 41 6500 × 0.1 − 400 = 250 A
      'A0 0F', // 43 4000 × 0.1 − 400 = 0 A
    ],
    expect: {
      ...IDS_EXPECT,
      maxCellVoltage: 4.2,
      maxChargeCurrent: -250,
      nominalEnergy: 75,
      maxChargeVoltage: 750,
      maxTemp: 55,
      soc: 45.6,
      batteryVoltage: 620.5,
      chargerMaxVoltage: 1000,
      chargerMinVoltage: 200,
      chargerMaxCurrent: 250,
      chargerMinCurrent: 0,
    },
  },
  {
    title: '0x19 charge end (BSD + CSD)',
    type: 0x19,
    name: 'chargeEnd',
    source: 'docs/protocol.md §5.2 0x19',
    body: [
      ...IDS,
      '64', // 24 final SOC 100 %
      '41 01', // 25 3.21 V
      '59 01', // 27 3.45 V
      '46', // 29 70 − 50 = 20 °C
      '51', // 30 81 − 50 = 31 °C
      '58 02', // 31 600 min
      'C8 01', // 33 456 × 0.1 = 45.6 kWh
      '78 56 34 12', // 35 charger number 0x12345678
    ],
    expect: {
      ...IDS_EXPECT,
      finalSoc: 100,
      minCellVoltage: 3.21,
      maxCellVoltage: 3.45,
      minBatteryTemp: 20,
      maxBatteryTemp: 31,
      chargingMinutes: 600,
      outputEnergy: 45.6,
      chargerNo: 305419896,
    },
  },
  {
    title: '0x1B error (BEM + CEM): 2-bit flags LSB first; a set reserved bit is shown',
    type: 0x1b,
    name: 'bmsError',
    source: 'docs/protocol.md §5.2 0x1B table',
    body: [
      ...IDS,
      '09', // 24 CRM00 = 01 (bits 0–1), CRMAA = 10 (bits 2–3)
      '04', // 25 CTS/CML 00, CRO 01
      '02', // 26 CCS 10, CST 00
      '0D', // 27 CSD 01, "BMS other" = 000011
      '05', // 28 BRM 01, reserved bit 2 set
      '04', // 29 BCP 00, BRO 01
      '19', // 30 BCS 01, BCL 10, BST 01
      '02', // 31 BSD 10, "charger other" 0
    ],
    expect: {
      ...IDS_EXPECT,
      bem: { crm00Timeout: 1, crmAaTimeout: 2, ctsCmlTimeout: 0, croTimeout: 1, ccsTimeout: 2, cstTimeout: 0, csdTimeout: 1, bmsOther: 3 },
      cem: { brmTimeout: 1, reserved1: 1, bcpTimeout: 0, broTimeout: 1, bcsTimeout: 1, bclTimeout: 2, bstTimeout: 1, bsdTimeout: 2, chargerOther: 0 },
    },
  },
  {
    title: '0x1D BMS abort (BST): reason, 16-bit fault word LSB first, error byte',
    type: 0x1d,
    name: 'bmsAbort',
    source: 'docs/protocol.md §5.2 0x1D, §6.5 BST row',
    body: [
      ...IDS,
      '01', // 24 SOC target reached = 01
      '04 02', // 25 output-connector over-temp (bits 2–3) = 01, pack over-temp (bits 8–9) = 10
      '04', // 27 voltage abnormal (bits 2–3) = 01
    ],
    expect: {
      ...IDS_EXPECT,
      stopReason: { socReached: 1, totalVoltageReached: 0, cellVoltageReached: 0, chargerStopped: 0 },
      faultReason: {
        insulation: 0,
        outputConnectorOverTemp: 1,
        bmsComponentOverTemp: 0,
        chargingConnectorFault: 0,
        packOverTemp: 2,
        hvRelayFault: 0,
        cp2VoltageFault: 0,
        other: 0,
      },
      errorReason: { overCurrent: 0, voltageAbnormal: 1 },
    },
  },
  {
    title: '0x21 charger abort (CST)',
    type: 0x21,
    name: 'chargerAbort',
    source: 'docs/protocol.md §5.2 0x21, §6.5 CST row',
    body: [
      ...IDS,
      '04', // 24 manual stop (bits 2–3) = 01
      '00 05', // 25 emergency stop (bits 8–9) = 01, other (bits 10–11) = 01
      '01', // 27 current mismatch = 01
    ],
    expect: {
      ...IDS_EXPECT,
      stopReason: { conditionReached: 0, manualStop: 1, faultStop: 0, bmsStopped: 0 },
      faultReason: { chargerOverTemp: 0, connectorFault: 0, chargerInternalOverTemp: 0, energyUndeliverable: 0, emergencyStop: 1, other: 1 },
      errorReason: { currentMismatch: 1, voltageAbnormal: 0 },
    },
  },
  {
    title: '0x23 demand & output: the real lambda capture values (negative currents, 12-bit cell voltage + group)',
    type: 0x23,
    name: 'bmsDemand',
    source: 'docs/protocol.md §5.2 0x23 table and its real example',
    body: [
      ...IDS,
      '60 1B', // 24 700.8 V
      '38 02', // 26 568 × 0.1 − 400 = −343.2 A
      '02', // 28 constant current
      'DB 19', // 29 661.9 V
      '63 02', // 31 −338.9 A
      '59 51', // 33 0x5159: bits 0–11 = 345 → 3.45 V, bits 12–15 = group 5
      '5F', // 35 SOC 95 %
      '06 00', // 36 6 min left
      'F1 19', // 38 664.1 V
      '36 02', // 40 −343.4 A
      '30 00', // 42 48 min
    ],
    expect: {
      ...IDS_EXPECT,
      demandVoltage: 700.8,
      demandCurrent: -343.2,
      chargeMode: 2,
      chargeModeName: 'constant current',
      measuredVoltage: 661.9,
      measuredCurrent: -338.9,
      maxCellVoltage: 3.45,
      maxCellGroup: 5,
      soc: 95,
      remainingMinutes: 6,
      chargerOutputVoltage: 664.1,
      chargerOutputCurrent: -343.4,
      chargingMinutes: 48,
    },
  },
  {
    title: '0x25 BMS status (BSM): +1 offsets, temperatures, 2-bit status fields',
    type: 0x25,
    name: 'bmsStatus',
    source: 'docs/protocol.md §5.2 0x25 table',
    body: [
      ...IDS,
      '0B', // 24 cell 11 + 1 = 12
      '5A', // 25 90 − 50 = 40 °C
      '02', // 26 probe 3
      '4B', // 27 25 °C
      '00', // 28 probe 1
      '84', // 29 SOC high (bits 2–3 = 01), over-temperature untrustworthy (bits 6–7 = 10)
      '10', // 30 charging permitted (bits 4–5 = 01)
    ],
    expect: {
      ...IDS_EXPECT,
      maxCellVoltageNo: 12,
      maxBatteryTemp: 40,
      maxTempProbeNo: 3,
      minBatteryTemp: 25,
      minTempProbeNo: 1,
      status: { cellVoltage: 0, soc: 1, overCurrent: 0, overTemp: 2 },
      status2: { insulation: 0, outputConnector: 0, chargingPermitted: 1 },
    },
  },
];
