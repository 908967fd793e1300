/**
 * examples/tariff-schedule.json: the midnight tariff reaches every online pile (and later logins),
 * the 03:00 time sync sets each online pile's clock to China time. The cron injects are fired by hand.
 */
import should from 'should';
import { Tariff } from '../../src/billing/tariff';
import { VirtualPile } from '../../src/simulator';
import { Loaded, loadExample } from './harness';

const PILES = ['32010200000301', '32010200000302'];

function nextTariff(p: VirtualPile, code: string): Promise<Tariff> {
  return new Promise((resolve) => {
    const on = (t: Tariff) => {
      if (String(t.modelCode) !== code) return;
      p.off('tariff', on);
      resolve(t);
    };
    p.on('tariff', on);
  });
}

describe('example tariff-schedule.json', function () {
  this.timeout(15_000);
  let ex: Loaded;
  const piles: VirtualPile[] = [];

  before(async () => {
    ex = await loadExample('tariff-schedule.json');
    for (const [i, pileNo] of PILES.entries()) {
      // Real-time clocks, one of them an hour slow: the time sync must put both right.
      const p = new VirtualPile({ port: ex.ykcPort, pileNo, guns: 1, seed: i + 1, faults: i === 1 ? { clockSkewMs: -3600_000 } : {} });
      piles.push(p);
      p.connect();
    }
    await Promise.all(piles.map((p) => p.waitOnline()));
  });

  after(async () => {
    await Promise.all(piles.map((p) => p.close()));
    await ex?.close();
  });

  it('runs the tariff at 00:00 and the time sync at 03:00 every day (cron injects)', () => {
    should(ex.node('sched.midnight')).be.ok();
    const byId = Object.fromEntries(ex.flow.map((n) => [n.id, n]));
    should(byId['sched.midnight'].crontab).equal('00 00 * * *');
    should(byId['sched.night'].crontab).equal('00 03 * * *');
    should(byId['sched.tariff'].pile).equal('*');
  });

  it('the midnight inject sends model 0002 to every online pile; each accepts it and bills with its 48 slots', async () => {
    const got = piles.map((p) => nextTariff(p, '0002'));
    ex.trigger('sched.midnight', { payload: Date.now() });
    const models = await Promise.all(got);
    const accepted = ex.inbox('sched.tariffok');
    await accepted.wait((m) => m.ykc.pileNo === PILES[1], 5000, 'second acceptance');
    await accepted.wait((m) => m.ykc.pileNo === PILES[0], 5000, 'first acceptance');
    for (const t of models) {
      const b = t.toBody();
      should(b.modelCode).equal('0002');
      should(b.slots.slice(0, 14).every((s) => s === 3)).be.true(); // valley until 07:00
      should(b.slots.slice(38, 42).every((s) => s === 0)).be.true(); // sharp 19:00–21:00
      should(b.valleyElecPrice).equal(0.35);
      should(b.sharpElecPrice).equal(1.3);
    }
    should(ex.inbox('sched.tariffno').msgs).have.length(0);
  });

  it('a pile that logs in after midnight gets the same model (it became the gateway default)', async () => {
    const late = new VirtualPile({ port: ex.ykcPort, pileNo: '32010200000303', guns: 1, seed: 9 });
    piles.push(late);
    const model = nextTariff(late, '0002');
    late.connect();
    await late.waitOnline();
    should((await model).toBody().modelCode).equal('0002');
  });

  it('the 03:00 inject sets the clock of every online pile (China time on the wire)', async () => {
    should(Math.abs(piles[1].wallNow() - (Date.now()))).be.above(1800_000);
    ex.trigger('sched.night', { payload: Date.now() });
    const set = ex.inbox('sched.syncok');
    for (const pileNo of [...PILES, '32010200000303']) await set.wait((m) => m.ykc.pileNo === pileNo, 5000, `time set on ${pileNo}`);
    for (const p of piles) should(Math.abs(p.wallNow() - (Date.now()))).be.below(2500);
    const sent = String(set.msgs[0].ykc.sentTime);
    should(sent).match(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}/);
    // Wall time in Asia/Shanghai (UTC+8), whatever the test machine's zone.
    should(Math.abs(Date.parse(`${sent.slice(0, 19).replace(' ', 'T')}+08:00`) - Date.now())).be.below(5000);
    should(ex.inbox('sched.syncno').msgs).have.length(0);
  });
});
