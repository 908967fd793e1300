/**
 * First hour with a v1.4 pile (login byte 0x0E), its records built by hand from docs/protocol.md §5.3 / §9
 * and sent over real TCP by the independent client of first-hour-pile.ts. The 1.4 record table is not
 * published; two layouts are plausible: the inferred one (0x3B with 4-byte meter readings, body 156)
 * and firmware that widened the meters but kept the old type code (exactly the 0x3B layout, body 158).
 * Read with the wrong layout, every field from the meter readings on shifts: a 12.3456 kWh session was
 * stored as 379,584 kWh and ¥192,806 and acknowledged (the pile then deletes it). Each length must be
 * read as its own layout: the values the pile sent, audited clean, answered with 0x40.
 */
import should from 'should';
import { auditRecord, DEFAULT_TARIFF, Tariff } from '../../src/billing';
import { RecordEvent, YkcServer } from '../../src/gateway';
import { FirstHourPile, modelRequest, record } from './first-hour-pile';

const PILE = '55010200000014';

describe('first hour: a v1.4 pile and its 0x3F / 0x39 records (independent raw client)', function () {
  this.timeout(30_000);
  let gw: YkcServer;
  let port: number;
  let pile: FirstHourPile;
  const records: RecordEvent[] = [];

  before(async () => {
    gw = new YkcServer({ autoTimeSync: false, recordConfirm: 'at-once' });
    gw.setTariff(null, DEFAULT_TARIFF);
    gw.on('record', (e) => records.push(e));
    port = (await gw.listen(0, '127.0.0.1')).port;
    pile = await FirstHourPile.connect(port);
    should(await pile.login(PILE, { version: 0x0e })).equal(0);
    pile.write(modelRequest(PILE, [0, 1]));
    await pile.next(0x0a);
  });
  after(async () => {
    pile?.close();
    await gw?.close();
  });

  it('the login is reported as version 1.4', () => {
    should(gw.session(PILE)?.version).equal('1.4');
  });

  // Flat level of the default tariff: 0.8 + 0.5 yuan/kWh; a session at 14:00–14:20 China time (flat).
  const flat = DEFAULT_TARIFF.flatElecPrice * 100_000 + DEFAULT_TARIFF.flatServicePrice * 100_000;
  const day = new Date(Date.now() - 86_400_000);
  const at = (h: number, m: number) => new Date(Date.UTC(day.getUTCFullYear(), day.getUTCMonth(), day.getUTCDate(), h - 8, m));

  const cases: Array<{ type: number; meterWidth: 4 | 5; body: number; serial: string }> = [
    { type: 0x3f, meterWidth: 4, body: 156, serial: '0001' },
    { type: 0x3f, meterWidth: 5, body: 158, serial: '0002' },
    { type: 0x39, meterWidth: 4, body: 156, serial: '0003' },
    { type: 0x39, meterWidth: 5, body: 158, serial: '0004' },
  ];
  for (const c of cases) {
    it(`0x${c.type.toString(16).toUpperCase()} with ${c.meterWidth}-byte meter readings (body ${c.body}): the values sent, audited clean, acknowledged with 0x40`, async () => {
      const tradeNo = `${PILE}01${'251204140000'}${c.serial}`;
      const energy = 123_456; // 12.3456 kWh
      const meterStart = 5_000_000; // 500.0000 kWh
      const f = record(c.type, tradeNo, PILE, 1, { start: at(14, 0), end: at(14, 20), price: Math.round(flat), energy, meterStart, meterWidth: c.meterWidth }, [0, 0x20]);
      should(f.length - 8).equal(c.body);
      const before = records.length;
      pile.write(f);
      const ack = await pile.next(0x40, 10_000, (a) => a.body.subarray(0, 16).toString('hex') === tradeNo);
      should(ack.crcOk).be.true();
      should(ack.body[16]).equal(0, '0x40 result 0: received');
      const end = Date.now() + 5000;
      while (records.length === before && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
      const b = records[records.length - 1].frame.body;
      should(records[records.length - 1].frame.type).equal(c.type);
      should(b).containEql({ tradeNo, pileNo: PILE, gunNo: 1, meterStart: 500, meterEnd: 512.3456, totalEnergy: 12.3456, totalLossEnergy: 12.3456, flatEnergy: 12.3456 });
      should(b.totalAmount).equal(Math.floor((Math.round(flat) * energy) / 100_000) / 10_000);
      should(b).containEql({ vin: 'LFV0000000000FH01', startType: 1, stopReason: 0x40, physicalCardNo: '0000000000000000' });
      should(b.extra).be.undefined();
      const audit = auditRecord(b, Tariff.fromBody(DEFAULT_TARIFF));
      const wrong = audit.mismatches.filter((m) => !/^(sharp|peak|valley)Price$/.test(m.field)); // the hand-made record prices only the flat level
      should(wrong).eql([]);
      should(audit.inconsistencies.filter((i) => i.severity === 'error')).eql([]);
    });
  }
});
