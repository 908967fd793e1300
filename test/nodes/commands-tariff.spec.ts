import should from 'should';
import { rawFrame } from '../support/raw';
import { inject, lastStatus, Msg, PILE, PILE2, Rig, rig, seqOf } from './commands-harness';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const tariffNode = require('../../nodes/ykc-tariff');

// Valley 00:00–08:00, peak 08:00–12:00, flat 12:00–18:00, sharp 18:00–21:00, flat 21:00–24:00.
const SLOTS = '3'.repeat(16) + '1'.repeat(8) + '2'.repeat(12) + '0'.repeat(6) + '2'.repeat(6);
const MODEL = {
  modelCode: '0100',
  sharpElecPrice: '1.2',
  sharpServicePrice: '0.8',
  peakElecPrice: '1.0',
  peakServicePrice: '0.8',
  flatElecPrice: '0.7',
  flatServicePrice: '0.8',
  valleyElecPrice: '0.3',
  valleyServicePrice: '0.8',
  lossRatio: '0',
  slots: SLOTS,
};
const TARIFF = { type: 'ykc-tariff', pile: PILE, pileType: 'str', ...MODEL };

describe('nodes: ykc-tariff (0x58 → 0x57)', function () {
  this.timeout(10_000);
  let r: Rig;
  afterEach(async () => {
    if (r) await r.close();
  });

  it('pushes the dialog model byte-exact; on success the gateway answers 0x05/0x09 with it', async () => {
    r = await rig(tariffNode, TARIFF);
    const p = await r.pile();
    inject(r, { payload: 1 });
    const f = await p.next(0x58);
    const body = p.raw[p.raw.length - 1].subarray(6, 6 + 90).toString('hex').toUpperCase();
    // pile · model 01 00 · sharp 1.20000 = 120000 = C0 D4 01 00 · sharp service 0.80000 = 80000 = 80 38 01 00 …
    should(body.slice(0, 26)).equal(`${PILE}0100C0D40100`);
    should(body.slice(26, 34)).equal('80380100');
    // valley elec 0.30000 = 30000 = 30 75 00 00 at body offset 33
    should(body.slice(66, 74)).equal('30750000');
    should(body.slice(82, 84)).equal('00'); // loss ratio
    should(body.slice(84)).equal(SLOTS.split('').map((d) => `0${d}`).join(''));
    p.write(rawFrame(0x57, `${PILE}01`, seqOf(f)));
    const m = await r.out[0].next();
    should(m.payload).containEql({ pileNo: PILE, result: 1, resultName: 'ok' });
    should(m.ykc).containEql({ outcome: 'accepted', modelCode: '0100', name: 'tariffSetReply' });
    should(r.gateway.tariffFor(PILE)).containEql({ modelCode: '0100', sharpElecPrice: 1.2, valleyElecPrice: 0.3 });
    // The pile checks its model: same code → 0x06 result 0; it asks for the model → 0x0A is the one pushed.
    p.write(rawFrame(0x05, `${PILE}0100`, '0700'));
    should((await p.next(0x06)).body.result).equal(0);
    p.write(rawFrame(0x09, PILE, '0800'));
    const a = await p.next(0x0a);
    should(a.body).containEql({ modelCode: '0100', sharpElecPrice: 1.2, peakElecPrice: 1, flatElecPrice: 0.7, valleyServicePrice: 0.8 });
    should(a.body.slots).eql(SLOTS.split('').map(Number));
  });

  it('pile "*" reaches every pile online: one msg per pile, done once', async () => {
    r = await rig(tariffNode, { ...TARIFF, pile: '*' });
    const p1 = await r.pile(PILE);
    const p2 = await r.pile(PILE2);
    inject(r, { payload: {}, batch: 'midnight' });
    const [f1, f2] = await Promise.all([p1.next(0x58), p2.next(0x58)]);
    should(f1.body.pileNo).equal(PILE);
    should(f2.body.pileNo).equal(PILE2);
    p1.write(rawFrame(0x57, `${PILE}01`, seqOf(f1)));
    p2.write(rawFrame(0x57, `${PILE2}01`, seqOf(f2)));
    const got: Msg[] = [await r.out[0].next(), await r.out[0].next()];
    should(got.map((m) => m.ykc.pileNo).sort()).eql([PILE, PILE2]);
    should(got.every((m) => m.batch === 'midnight')).be.true();
    should(r.gateway.tariffFor(PILE2)).containEql({ modelCode: '0100' });
  });

  it('a list of piles: a refusal and a timeout are reported per pile; the accepting pile keeps the model', async () => {
    r = await rig(tariffNode, { ...TARIFF, pile: `${PILE}, ${PILE2}`, timeout: '0.3' });
    const p1 = await r.pile(PILE);
    const p2 = await r.pile(PILE2);
    inject(r, { payload: {} });
    const f1 = await p1.next(0x58);
    await p2.next(0x58);
    p1.write(rawFrame(0x57, `${PILE}00`, seqOf(f1)));
    const refused = await r.out[1].next();
    should(refused.ykc).containEql({ pileNo: PILE, outcome: 'refused', reasonName: 'failed' });
    const timedOut = await r.out[2].next();
    should(timedOut.ykc).containEql({ pileNo: PILE2, outcome: 'timeout' });
    const codes = [(await r.caught.next()).error.code, (await r.caught.next()).error.code].sort();
    should(codes).eql(['YKC_REJECTED', 'YKC_TIMEOUT']);
    should(r.gateway.tariffFor(PILE)).be.null();
    should(lastStatus(r.node)).containEql({ fill: 'red', text: 'ykc-tariff.status.partial' });
  });

  it('msg.payload wins: a decoded 0x58 body, or { modelCode, levels, periods }', async () => {
    r = await rig(tariffNode, { ...TARIFF, pile: '' });
    const p = await r.pile();
    inject(r, { payload: { ...MODEL, pileNo: PILE, modelCode: '0200', slots: new Array(48).fill(2), flatElecPrice: 0.65432 } });
    const f = await p.next(0x58);
    should(f.body).containEql({ modelCode: '0200', flatElecPrice: 0.65432, sharpElecPrice: 1.2 });
    p.write(rawFrame(0x57, `${PILE}01`, seqOf(f)));
    await r.out[0].next();
    inject(r, {
      payload: {
        pileNo: PILE,
        modelCode: 7,
        levels: [
          { elec: '1.5', service: '0.5' },
          { elec: 1.2, service: 0.5 },
          { elec: 0.9, service: 0.5 },
          { elec: 0.4, service: 0.5 },
        ],
        periods: [
          { from: '00:00', to: '24:00', level: 'flat' },
          { from: '22:00', to: '06:00', level: '谷' },
        ],
      },
    });
    const g = await p.next(0x58);
    should(g.body).containEql({ modelCode: '0007', sharpElecPrice: 1.5, valleyElecPrice: 0.4 });
    should((g.body.slots as number[])[0]).equal(3);
    should((g.body.slots as number[])[12]).equal(2);
    should((g.body.slots as number[])[47]).equal(3);
  });

  it('bad models (47 slots, a negative price, 6 decimals, level 4) → YKC_FIELD, nothing sent', async () => {
    r = await rig(tariffNode, TARIFF);
    const p = await r.pile();
    const bad = [
      { slots: SLOTS.slice(1) },
      { peakElecPrice: -0.1 },
      { peakServicePrice: '0.123456' },
      { slots: SLOTS.slice(0, 47) + '4' },
      { modelCode: '12345' },
    ];
    for (const payload of bad) {
      inject(r, { payload });
      const e = await r.caught.next();
      should(e.error.code).equal('YKC_FIELD');
      should((await r.out[2].next()).payload).eql(payload);
    }
    should(lastStatus(r.node)).containEql({ fill: 'red', shape: 'ring', text: 'ykc-tariff.status.badInput' });
    inject(r, { payload: { modelCode: '0300' } });
    const f = await p.next(0x58);
    should(f.body.modelCode).equal('0300');
    should(p.frames.length).equal(0);
  });

  it('"*" with no pile online → output 3, YKC_OFFLINE; setDefault makes the model the server default', async () => {
    r = await rig(tariffNode, { ...TARIFF, pile: '*', setDefault: true });
    inject(r, { payload: {} });
    should((await r.out[2].next()).ykc.outcome).equal('offline');
    should((await r.caught.next()).error.code).equal('YKC_OFFLINE');
    should(r.gateway.tariffFor('99999999999999')).containEql({ modelCode: '0100' });
  });
});
