/**
 * examples/commands-*.json run as shipped (test/examples/harness.ts: free ports, debug nodes
 * observable) against virtual piles from src/simulator.
 */
import should from 'should';
import type { Tariff } from '../../src/billing/tariff';
import { VirtualPile } from '../../src/simulator';
import { Loaded, loadExample, readExample } from '../examples/harness';
import { startFtpServer } from '../support/ftp-server';

const PILE = '32010200000001';

async function virtualPile(ex: Loaded, pileNo = PILE): Promise<VirtualPile> {
  const p = new VirtualPile({ port: ex.ykcPort, host: '127.0.0.1', pileNo, guns: 2, seed: 3, timing: { rebootMs: 100 } });
  const model = new Promise<void>((resolve) => p.once('tariff', () => resolve()));
  p.connect();
  await p.waitOnline();
  await model;
  return p;
}

const nextModel = (p: VirtualPile, code: string) =>
  new Promise<Tariff>((resolve) => {
    const on = (t: Tariff) => {
      if (t.modelCode !== code) return;
      p.off('tariff', on);
      resolve(t);
    };
    p.on('tariff', on);
  });

describe('examples/commands-*.json', function () {
  this.timeout(20_000);
  let ex: Loaded | undefined;
  const piles: VirtualPile[] = [];
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    await Promise.all(piles.splice(0).map((p) => p.close()));
    await ex?.close();
    ex = undefined;
    for (const c of cleanups.splice(0)) await c();
  });

  it('every command node of the pack appears in an example, and every example has bilingual notes', () => {
    const types = new Set<string>();
    for (const name of ['commands-start-stop.json', 'commands-settings.json', 'commands-command.json']) {
      const flow = readExample(name);
      for (const n of flow) types.add(n.type);
      const note = flow.find((n) => n.type === 'comment')!;
      should(note.info).match(/[\u4e00-\u9fff]{8}/);
      should(flow.filter((n) => n.type === 'ykc-server')).have.length(1);
    }
    for (const t of ['ykc-start', 'ykc-stop', 'ykc-tariff', 'ykc-time-sync', 'ykc-reboot', 'ykc-ota', 'ykc-command']) should(types.has(t)).be.true(t);
  });

  it('commands-start-stop: start → started + chargingConfirmed; a second start is refused; stop → stopped', async () => {
    ex = await loadExample('commands-start-stop.json');
    const p = await virtualPile(ex);
    piles.push(p);
    p.plug(1);
    ex.trigger('cmdss.start');
    const started = await ex.inbox('cmdss.started').wait();
    should(started.payload).containEql({ pileNo: PILE, gunNo: 1, result: 1 });
    should(started.topic).equal('app/start');
    const follow = await ex.inbox('cmdss.followup').wait((m) => m.ykc.event === 'chargingConfirmed');
    should(follow.payload.tradeNo).equal(started.ykc.tradeNo);
    ex.trigger('cmdss.start');
    const refused = await ex.inbox('cmdss.startrefused').wait();
    should(refused.payload.failReasonName).equal('gun already charging');
    should((await ex.inbox('cmdss.errors').wait()).error.code).equal('YKC_REJECTED');
    ex.trigger('cmdss.stop');
    should((await ex.inbox('cmdss.stopped').wait()).payload).containEql({ result: 1, resultName: 'stopped' });
    should(p.gunStatus(1).charging).be.false();
  });

  it('commands-start-stop: with no pile online the start goes to "not delivered" with YKC_OFFLINE', async () => {
    ex = await loadExample('commands-start-stop.json');
    ex.trigger('cmdss.start');
    should((await ex.inbox('cmdss.startfailed').wait()).ykc.error.code).equal('YKC_OFFLINE');
  });

  it('commands-settings: the painted model reaches every pile, then the msg.payload model; clock, reboot, update', async () => {
    // The update is real: the example's FTP server (192.168.1.20, a placeholder) becomes one on 127.0.0.1
    // holding the firmware under the example's directory path, where the pile adds its vendor's file name.
    const ftp = await startFtpServer('firmware', 'example-pw');
    cleanups.push(() => ftp.close());
    ftp.put('ykc/dc60/ykc-fw.bin', Buffer.alloc(1000, 1));
    ex = await loadExample('commands-settings.json', {
      credentials: { 'cmdset.ota': { ftpPassword: ftp.password } },
      patch(flow) {
        const ota = flow.find((n) => n.id === 'cmdset.ota')!;
        should(ota).match({ ftpHost: '192.168.1.20', ftpUser: 'firmware', ftpPath: '/ykc/dc60/' });
        Object.assign(ota, { ftpHost: ftp.host, ftpPort: String(ftp.port) });
      },
    });
    const a = await virtualPile(ex);
    const b = await virtualPile(ex, '32010200000002');
    piles.push(a, b);
    const models = [a, b].map((p) => nextModel(p, '0002'));
    ex.trigger('cmdset.tariffall');
    const [ta] = await Promise.all(models);
    should(ta.slots.slice(0, 16).every((s) => s === 3)).be.true();
    should(ta.toBody().sharpElecPrice).equal(1.3);
    const ok = ex.inbox('cmdset.tariffok');
    await ok.wait((m) => m.ykc.pileNo === '32010200000002');
    await ok.wait((m) => m.ykc.pileNo === PILE);
    const next = nextModel(a, '0003');
    ex.trigger('cmdset.tariffmsg');
    const t3 = await next;
    should(t3.slots[16]).equal(1); // 08:00 peak
    should(t3.slots[36]).equal(0); // 18:00 sharp
    should(t3.slots[47]).equal(3); // 23:30 valley
    ex.trigger('cmdset.timegiven');
    should((await ex.inbox('cmdset.timeok').wait()).payload.time).equal('2025-10-10 11:06:33');
    ex.trigger('cmdset.timenow');
    await ex.inbox('cmdset.timeok').wait((m) => m.payload.time !== '2025-10-10 11:06:33');
    should(Math.abs(a.wallNow() - Date.now())).be.below(2500);
    ex.trigger('cmdset.rebootin');
    should((await ex.inbox('cmdset.rebootok').wait()).payload.result).equal(1);
    await a.waitOnline();
    ex.trigger('cmdset.otain');
    should((await ex.inbox('cmdset.otaok').wait(() => true, 10_000)).payload).containEql({ status: 0, statusName: 'ok' });
    should(ftp.logins).containEql({ username: 'firmware', ok: true });
    should(ex.inbox('cmdset.tariffno').msgs).have.length(0);
  });

  it('commands-command: realtime, work params, lock, cards; a card start answered by the flow; the record confirmed after "store"', async () => {
    ex = await loadExample('commands-command.json');
    const p = await virtualPile(ex);
    piles.push(p);
    const ok = ex.inbox('cmdc.ok');
    ex.trigger('cmdc.rt');
    should((await ok.wait((m) => m.ykc.request.name === 'readRealtime')).payload).containEql({ gunNo: 1, gunStateName: 'idle' });
    ex.trigger('cmdc.work');
    await ok.wait((m) => m.ykc.request.name === 'workParams');
    ex.trigger('cmdc.lock');
    await ok.wait((m) => m.ykc.request.name === 'lockCommand');
    ex.trigger('cmdc.sync');
    should((await ok.wait((m) => m.ykc.request.name === 'cardSync')).payload).containEql({ cardsStored: 20, frames: 2 });
    ex.trigger('cmdc.query');
    const q = await ok.wait((m) => m.ykc.request.name === 'cardQuery');
    should(q.payload.cards.map((c: { result: number }) => c.result)).eql([1, 0]);
    ex.trigger('cmdc.clear');
    await ok.wait((m) => m.ykc.request.name === 'cardClear');
    // 1.5 pile: the parallel start is refused before sending.
    ex.trigger('cmdc.par');
    should((await ex.inbox('cmdc.failed').wait()).ykc.error.code).equal('YKC_VERSION');
    // A card start: the pile asks (0x31), the flow answers from flow.accounts (0x32), the pile charges.
    p.plug(1);
    const outcome = await p.card(1, '00000000D14B0A54');
    should(outcome.result).equal('started');
    should((await ex.inbox('cmdc.authsent').wait()).payload).containEql({ result: 1, balance: 80 });
    // Stop with the same card: the record goes to "store the record", then ykc command confirms it.
    const confirmed = new Promise<string>((resolve) => p.on('record', (e: { event: string; tradeNo: string }) => e.event === 'confirmed' && resolve(e.tradeNo)));
    should((await p.card(1, '00000000D14B0A54')).result).equal('stopped');
    const tradeNo = await confirmed;
    should((await ex.inbox('cmdc.acked').wait()).payload).containEql({ tradeNo, result: 0, resultName: 'received' });
    // An unknown card is refused (account not found).
    p.plug(2);
    should(await p.card(2, '00000000000000AA')).containEql({ result: 'refused' });
  });
});
