/**
 * examples/http-api.json in a real runtime: real HTTP requests against its http-in endpoints, a
 * virtual pile (src/simulator) logged in to its gateway over TCP.
 */
import should from 'should';
import { VirtualPile, PileSessionEvent as SessionEvent } from '../../src/simulator';
import { eventually, Loaded, loadExample, request } from './harness';

const PILE = '32010200000101';

function nextSession(p: VirtualPile, event: SessionEvent['event']): Promise<SessionEvent> {
  return new Promise((resolve) => {
    const on = (e: SessionEvent) => {
      if (e.event !== event) return;
      p.off('session', on);
      resolve(e);
    };
    p.on('session', on);
  });
}

describe('example http-api.json', function () {
  this.timeout(20_000);
  let ex: Loaded;
  let pile: VirtualPile;

  before(async () => {
    ex = await loadExample('http-api.json');
    pile = new VirtualPile({ port: ex.ykcPort, pileNo: PILE, guns: 2, speed: 50, seed: 7, timing: { realtimeChargingMs: 2000 } });
    pile.connect();
    await pile.waitOnline();
  });

  after(async () => {
    await pile?.close();
    await ex?.close();
  });

  it('GET /piles lists the pile with its guns once it logged in', async () => {
    const res = await eventually(async () => {
      const r = await request(`${ex.httpUrl}/piles`);
      return r.body?.[0]?.guns?.length === 2 ? r : null;
    }, 5000, 'two guns in GET /piles');
    should(res.status).equal(200);
    should(res.headers['content-type']).match(/application\/json/);
    const p = res.body[0];
    should(p).match({ pileNo: PILE, online: true, pileType: 'DC', gunCount: 2 });
    should(p.guns.map((g: { gunNo: number }) => g.gunNo)).eql([1, 2]);
    should(p.guns[0].state).equal('idle-unplugged');
  });

  it('POST /piles/:pile/start starts charging; the pile really runs the session with the trade number answered', async () => {
    pile.plug(1);
    const started = nextSession(pile, 'started');
    const res = await request(`${ex.httpUrl}/piles/${PILE}/start`, 'POST', { gunNo: 1, balance: 50 });
    should(res.status).equal(200);
    should(res.body).match({ ok: true, outcome: 'accepted', pileNo: PILE, gunNo: 1 });
    should(res.body.tradeNo).match(/^\d{32}$/);
    should(res.body.tradeNo.startsWith(`${PILE}01`)).be.true();
    const s = await started;
    should(s.tradeNo).equal(res.body.tradeNo);
    should(s.balance).equal(50 * 10000);

    // The table behind GET /piles/:pile follows the pile's realtime data.
    const one = await eventually(async () => {
      const r = await request(`${ex.httpUrl}/piles/${PILE}`);
      const g = r.body.guns?.[0];
      return g?.state === 'charging' && g.powerKw > 0 ? r : null;
    }, 8000, 'gun 1 charging with power in GET /piles/:pile');
    should(one.status).equal(200);
    should(one.body.guns[0].tradeNo).equal(res.body.tradeNo);
  });

  it('POST /piles/:pile/stop stops it (200), a second stop is refused by the pile (409 with its reason)', async () => {
    const ended = nextSession(pile, 'ended');
    const res = await request(`${ex.httpUrl}/piles/${PILE}/stop`, 'POST', { gunNo: 1 });
    should(res.status).equal(200);
    should(res.body).match({ ok: true, outcome: 'accepted', pileNo: PILE, gunNo: 1 });
    await ended;
    const again = await request(`${ex.httpUrl}/piles/${PILE}/stop`, 'POST', { gunNo: 1 });
    should(again.status).equal(409);
    should(again.body).match({ ok: false, outcome: 'refused', pileNo: PILE });
    should(again.body.reason).be.a.Number();
    should(again.body.reasonName).be.a.String().and.not.empty();
  });

  it('answers 400 for a bad pile number, 404 for a pile not connected, 404 for GET of an unknown pile', async () => {
    const bad = await request(`${ex.httpUrl}/piles/123/start`, 'POST', {});
    should(bad.status).equal(400);
    should(bad.body.error.code).equal('YKC_FIELD');
    const off = await request(`${ex.httpUrl}/piles/32010200009999/start`, 'POST', { gunNo: 1 });
    should(off.status).equal(404);
    should(off.body).match({ ok: false, outcome: 'offline' });
    should(off.body.error.code).equal('YKC_OFFLINE');
    const unknown = await request(`${ex.httpUrl}/piles/32010200009999`);
    should(unknown.status).equal(404);
  });

  it('GET /piles shows the pile offline once it is gone', async () => {
    await pile.close();
    const res = await eventually(async () => {
      const r = await request(`${ex.httpUrl}/piles`);
      return r.body?.[0]?.online === false ? r : null;
    }, 5000, 'pile offline in GET /piles');
    should(res.body[0].guns.every((g: { state: string }) => g.state === 'offline')).be.true();
  });
});
