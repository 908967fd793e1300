import 'should';
import { decodeFrame, encodeFrame } from '../../src/protocol';
import { Tariff, TariffBody } from '../../src/billing/tariff';
import { loadVectors } from '../support/repo';
import { sampleTariffBody } from './helpers';

function vector(type: string, kind: string): string {
  const v = loadVectors().find((x) => x.type === type && x.kind === kind);
  if (!v) throw new Error(`no ${type} ${kind} vector`);
  return v.hex;
}

describe('billing/tariff', () => {
  it('reads the decoded 0x58 body of a real library-generated frame and writes the same bytes back', () => {
    const hex = vector('0x58', 'library-generated');
    const f = decodeFrame(hex);
    const t = Tariff.fromBody(f.body);
    t.modelCode.should.equal('0100');
    t.elec.should.eql([200000, 200000, 200000, 200000]);
    t.service.should.eql([40000, 40000, 40000, 40000]);
    t.unitPrice(3).should.equal(240000);
    t.lossRatio.should.equal(0);
    const body = t.toBody(f.body.pileNo as string);
    body.should.eql(f.body);
    encodeFrame({ ...f, body: body as unknown as Record<string, unknown> }).toString('hex').toUpperCase().should.equal(hex);
  });

  it('reads the document\'s worked model (docs/protocol.md §7): sharp 2, peak 3 (not the annotated 2), flat 4, valley 5 yuan/kWh', () => {
    const f = decodeFrame(vector('0x0A', 'spec-example'), { verifyCrc: false });
    const t = Tariff.fromBody(f.body);
    t.elec.should.eql([200000, 300000, 400000, 500000]);
    // service bytes 9C 40 00 00 read little-endian (errata §10 #6): 0x409C = 16540 → 0.16540
    t.service.should.eql([16540, 16540, 16540, 16540]);
    t.unitPrice(1).should.equal(316540);
    t.slots.every((s) => s === 0).should.be.true();
  });

  it('reads the platform-output 0x0A slots 0,1,2,3 in order', () => {
    const f = decodeFrame(vector('0x0A', 'platform-output'), { verifyCrc: false });
    const t = Tariff.fromBody(f.body);
    t.slots.slice(0, 8).should.eql([0, 1, 2, 3, 0, 1, 2, 3]);
    t.levelAt(0).should.equal(0);
    t.levelAt(30).should.equal(1);
    t.levelAt(89.99).should.equal(2);
    t.levelAt(90).should.equal(3);
  });

  it('finds the level of any minute of the day', () => {
    const t = Tariff.fromBody(sampleTariffBody());
    t.levelAt(0).should.equal(3);
    t.levelAt(479).should.equal(3);
    t.levelAt(480).should.equal(1);
    t.levelAt(11 * 60 + 59).should.equal(0);
    t.levelAt(23 * 60 + 59.5).should.equal(3);
    (() => t.levelAt(1440)).should.throw({ code: 'YKC_INPUT' });
    (() => t.levelAt(-1)).should.throw({ code: 'YKC_INPUT' });
    (() => t.unitPrice(4)).should.throw({ code: 'YKC_INPUT' });
  });

  it('keeps prices exact (0.33333 is 33333 units, not a float)', () => {
    const t = Tariff.fromBody(sampleTariffBody());
    t.elecPrice(3).should.equal(33333);
    t.unitPrice(3).should.equal(73333);
    t.toBody().valleyElecPrice.should.equal(0.33333);
  });

  it('summarises time ranges per level in English and Chinese', () => {
    const t = Tariff.fromBody(sampleTariffBody());
    t.summary('en').should.eql([
      'model 0100, loss ratio 0',
      '尖 sharp 11:00–12:00: 1.50000 + 0.80000 yuan/kWh (2.30000)',
      '峰 peak 08:00–11:00, 18:00–21:00: 1.20000 + 0.80000 yuan/kWh (2.00000)',
      '平 flat 12:00–18:00, 21:00–23:00: 0.70000 + 0.60000 yuan/kWh (1.30000)',
      '谷 valley 00:00–08:00, 23:00–24:00: 0.33333 + 0.40000 yuan/kWh (0.73333)',
    ]);
    t.summary('zh')[2].should.equal('峰 08:00–11:00、18:00–21:00：电费 1.20000 + 服务费 0.80000 元/kWh（合计 2.00000）');
    t.summary('zh')[0].should.equal('计费模型 0100，计损比例 0');
    const single = Tariff.fromBody({ ...sampleTariffBody(), slots: new Array(48).fill(2) });
    single.summary('en')[1].should.match(/sharp not used/);
    single.summary('zh')[1].should.match(/尖 未使用/);
    single.levelSummaries()[2].ranges.should.eql([{ from: '00:00', to: '24:00' }]);
    String(t).split('\n').length.should.equal(5);
  });

  it('builds from the friendlier shape with periods (wrapping midnight) and equals the same body', () => {
    const a = Tariff.fromInput({
      modelCode: 100,
      levels: [
        { elec: 1.5, service: '0.80000' },
        { elec: '1.2', service: 0.8 },
        { elec: 0.7, service: 0.6 },
        { elec: 0.33333, service: 0.4 },
      ],
      periods: [
        { from: '00:00', to: '24:00', level: 'flat' },
        { from: '23:00', to: '08:00', level: '谷' },
        { from: '08:00', to: '11:00', level: 1 },
        { from: '18:00', to: '21:00', level: 'peak' },
        { from: '11:00', to: '12:00', level: '尖' },
      ],
    });
    a.equals(Tariff.fromBody(sampleTariffBody())).should.be.true();
    Tariff.from(a).should.equal(a);
    Tariff.from(sampleTariffBody()).equals(a).should.be.true();
    Tariff.from({ modelCode: '0100', elec: a.elec, service: a.service, slots: a.slots }).equals(a).should.be.true();
    a.equals(Tariff.fromBody({ ...sampleTariffBody(), modelCode: '0101' })).should.be.false();
    a.equals(Tariff.fromBody({ ...sampleTariffBody(), valleyServicePrice: 0.40001 })).should.be.false();
    a.equals(Tariff.fromBody({ ...sampleTariffBody(), lossRatio: 1 })).should.be.false();
    const s = sampleTariffBody().slots;
    s[47] = 2;
    a.equals(Tariff.fromBody({ ...sampleTariffBody(), slots: s })).should.be.false();
    a.equals(null).should.be.false();
    const noPile: Partial<TariffBody> = sampleTariffBody();
    delete noPile.pileNo;
    JSON.parse(JSON.stringify(a)).should.eql(noPile);
  });

  describe('validation (YKC_TARIFF, field named, in English)', () => {
    const bad = (patch: Record<string, unknown>, field: RegExp, why: RegExp) => {
      let err: unknown;
      try {
        Tariff.fromBody({ ...sampleTariffBody(), ...patch });
      } catch (e) {
        err = e;
      }
      if (!err) throw new Error('expected an error for ' + JSON.stringify(patch));
      (err as { code: string }).code.should.equal('YKC_TARIFF');
      (err as Error).message.should.match(field);
      (err as Error).message.should.match(why);
    };
    it('47 slots', () => bad({ slots: new Array(47).fill(0) }, /slots/, /exactly 48 entries/));
    it('no slots', () => bad({ slots: undefined }, /slots/, /array of 48/));
    it('a slot at level 4', () => {
      const slots = new Array(48).fill(0);
      slots[17] = 4;
      bad({ slots }, /slots\[17\] \(08:30–09:00\)/, /level 0 sharp/);
    });
    it('a negative price', () => bad({ peakServicePrice: -0.1 }, /peakServicePrice/, /negative/));
    it('6 decimals', () => bad({ flatElecPrice: 0.123456 }, /flatElecPrice/, /more than 5 decimals/));
    it('a price beyond 32 bits', () => bad({ sharpElecPrice: 42949.67296 }, /sharpElecPrice/, /too large/));
    it('elec + service beyond the record\'s 32-bit unit price', () =>
      bad({ valleyElecPrice: 30000, valleyServicePrice: 20000 }, /valleyElecPrice \+ valleyServicePrice/, /too large/));
    it('a price that is not a number', () => bad({ sharpElecPrice: 'cheap' }, /sharpElecPrice/, /price/));
    it('a missing price', () => bad({ valleyServicePrice: undefined }, /valleyServicePrice/, /price/));
    it('bad model codes', () => {
      bad({ modelCode: '01A0' }, /modelCode/, /4 decimal digits/);
      bad({ modelCode: '12345' }, /modelCode/, /4 decimal digits/);
      bad({ modelCode: undefined }, /modelCode/, /4 decimal digits/);
    });
    it('a bad loss ratio', () => bad({ lossRatio: 256 }, /lossRatio/, /0 to 255/));
    it('accepts model codes as short digit strings and numbers', () => {
      Tariff.fromBody({ ...sampleTariffBody(), modelCode: '62' }).modelCode.should.equal('0062');
      Tariff.fromBody({ ...sampleTariffBody(), modelCode: 9999 as unknown as string }).modelCode.should.equal('9999');
    });
    it('friendly shape: uncovered half hours, bad period times, bad level names', () => {
      const levels = [0, 1, 2, 3].map(() => ({ elec: 1, service: 0 }));
      (() => Tariff.fromInput({ modelCode: 1, levels, periods: [{ from: '00:00', to: '23:00', level: 2 }] }))
        .should.throw({ code: 'YKC_TARIFF', message: /slots .*23:00–23:30, 23:30–24:00/ });
      (() => Tariff.fromInput({ modelCode: 1, levels, periods: [{ from: '00:15', to: '24:00', level: 2 }] }))
        .should.throw({ code: 'YKC_TARIFF', message: /periods\[0\]\.from .*half hour/ });
      (() => Tariff.fromInput({ modelCode: 1, levels, periods: [{ from: '24:00', to: '01:00', level: 2 }] }))
        .should.throw({ code: 'YKC_TARIFF', message: /periods\[0\]\.from/ });
      (() => Tariff.fromInput({ modelCode: 1, levels, periods: [{ from: '00:00', to: '24:00', level: 'cheap' }] }))
        .should.throw({ code: 'YKC_TARIFF', message: /periods\[0\]\.level/ });
      (() => Tariff.fromInput({ modelCode: 1, levels: levels.slice(1), slots: new Array(48).fill(0) }))
        .should.throw({ code: 'YKC_TARIFF', message: /levels/ });
      (() => Tariff.fromInput({ modelCode: 1, levels: [...levels.slice(1), { elec: 1.000001, service: 0 }], slots: new Array(48).fill(0) }))
        .should.throw({ code: 'YKC_TARIFF', message: /levels\[3\]\.elec \(valley\) has more than 5 decimals/ });
      (() => Tariff.from(42)).should.throw({ code: 'YKC_TARIFF' });
      (() => Tariff.from({ foo: 1 })).should.throw({ code: 'YKC_TARIFF' });
    });
    it('the units constructor checks integers', () => {
      (() => new Tariff({ modelCode: 1, elec: [1, 2, 3, 4.5], service: [0, 0, 0, 0], slots: new Array(48).fill(0) }))
        .should.throw({ code: 'YKC_TARIFF', message: /valleyElecPrice/ });
    });
  });
});
