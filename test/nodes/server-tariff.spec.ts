/**
 * The ykc-server's default tariff: the dialog's grid fields (shared with ykc-tariff through
 * nodes/shared/tariff-form.ts), the older JSON field, or none. A new node's dialog starts with
 * DEFAULT_TARIFF, so a pile asking for its model (0x09) is answered out of the box; with none, a pile
 * gets ONE problem naming the fix however often it asks. Real runtime, real sockets.
 */
import * as fs from 'fs';
import * as path from 'path';
import should from 'should';
import { DEFAULT_TARIFF, Tariff } from '../../src/billing';
import { DEMO_TARIFF } from '../../src/cli/serve';
import type { YkcServerNode } from '../../nodes/shared/server-node';
import { REPO_ROOT } from '../support/repo';
import { ScriptedPile } from '../support/pile-client';
import { rawFrame } from '../support/raw';
import { translating } from '../support/i18n';
import { Flow, helper, loginFrame, PILE, PILE2 } from './commands-harness';
import { eventually, Inbox, Msg } from '../examples/harness';

/* eslint-disable @typescript-eslint/no-require-imports */
const serverNode = require('../../nodes/ykc-server');
const inNode = require('../../nodes/ykc-in');
/* eslint-enable @typescript-eslint/no-require-imports */

/** The editor's defaults for a new ykc-server, read from its registration in nodes/ykc-server.html. */
function editorDefaults(): Record<string, string> {
  const html = fs.readFileSync(path.join(REPO_ROOT, 'nodes', 'ykc-server.html'), 'utf8');
  const out: Record<string, string> = {};
  for (const m of html.matchAll(/^\s*(\w+): \{ value: '([^']*)'/gm)) out[m[1]] = m[2];
  return out;
}

describe('nodes: ykc-server default tariff', function () {
  this.timeout(15_000);
  const piles: ScriptedPile[] = [];
  afterEach(async () => {
    for (const p of piles.splice(0)) p.close();
    await helper.unload();
  });

  async function load(server: Record<string, unknown>, lang = 'en-US'): Promise<{ s: YkcServerNode; caught: Inbox }> {
    const flow: Flow = [
      { id: 't1', type: 'tab', label: 'tariff' },
      { id: 's1', type: 'ykc-server', host: '127.0.0.1', port: 0, autoTimeSync: false, persist: false, ...server },
      { id: 'in1', z: 't1', type: 'ykc-in', server: 's1', wires: [[]] },
      { id: 'c1', z: 't1', type: 'catch', scope: null, uncaught: false, wires: [['hc']] },
      { id: 'hc', z: 't1', type: 'helper' },
    ];
    await helper.load([translating(lang, serverNode), inNode], flow);
    const s = helper.getNode('s1') as unknown as YkcServerNode;
    await s.ready;
    return { s, caught: new Inbox(helper.getNode('hc')) };
  }

  async function pile(s: YkcServerNode, pileNo = PILE): Promise<ScriptedPile> {
    const p = await ScriptedPile.connect(s.port()!);
    piles.push(p);
    p.write(loginFrame(pileNo));
    await p.next(0x02);
    return p;
  }

  it('a new node (the editor defaults) holds DEFAULT_TARIFF, the tariff `ykc serve` answers with', () => {
    should(DEMO_TARIFF).equal(DEFAULT_TARIFF);
    const d = editorDefaults();
    should(d.tariffMode).equal('form');
    const fromEditor = Tariff.fromBody({ ...d, lossRatio: Number(d.lossRatio), slots: d.slots.split('').map(Number) }).toBody();
    should(fromEditor).eql(Tariff.fromBody(DEFAULT_TARIFF).toBody());
  });

  it('the dialog fields (editor defaults): a pile asking for its model (0x09) gets it (0x0A); its check (0x05) is answered', async () => {
    const d = editorDefaults();
    const { s } = await load({ tariffMode: 'form', ...Object.fromEntries(['modelCode', 'lossRatio', 'slots', ...['sharp', 'peak', 'flat', 'valley'].flatMap((l) => [`${l}ElecPrice`, `${l}ServicePrice`])].map((k) => [k, d[k]])) });
    const p = await pile(s);
    p.write(rawFrame(0x09, PILE, '0100'));
    const model = await p.next(0x0a, undefined, 5000);
    should(model.body).containEql({ pileNo: PILE, modelCode: '0001', sharpElecPrice: 1.2, valleyServicePrice: 0.4 });
    should(model.body.slots).eql(DEFAULT_TARIFF.slots);
    p.write(rawFrame(0x05, `${PILE}0001`, '0200'));
    should((await p.next(0x06, undefined, 5000)).body.result).equal(0);
  });

  it('painted fields of its own (not the defaults) are what the pile gets; a bad price is a configuration error', async () => {
    const own = { tariffMode: 'form', modelCode: '7', sharpElecPrice: '2.1', sharpServicePrice: '1', peakElecPrice: '1.5', peakServicePrice: '0.8', flatElecPrice: '1', flatServicePrice: '0.5', valleyElecPrice: '0.3', valleyServicePrice: '0.2', lossRatio: '5', slots: '0'.repeat(24) + '3'.repeat(24) };
    const { s } = await load(own);
    const p = await pile(s);
    p.write(rawFrame(0x09, PILE, '0100'));
    const model = await p.next(0x0a, undefined, 5000);
    should(model.body).containEql({ modelCode: '0007', sharpElecPrice: 2.1, lossRatio: 5 });
    should((model.body.slots as number[]).slice(22, 26)).eql([0, 0, 3, 3]);
    await helper.unload();
    const flow: Flow = [{ id: 's1', type: 'ykc-server', host: '127.0.0.1', port: 0, persist: false, ...own, peakElecPrice: 'abc' }];
    await helper.load([translating('en-US', serverNode)], flow);
    const bad = helper.getNode('s1') as unknown as YkcServerNode;
    const err = await bad.ready.then(() => null, (e: Error & { code?: string }) => e);
    should(err?.code).equal('YKC_TARIFF');
    should(err?.message).match(/^The default tariff is not valid: .*peakElecPrice/);
  });

  it('an older flow\'s JSON tariff still works', async () => {
    const { s } = await load({ tariff: JSON.stringify({ ...DEFAULT_TARIFF, modelCode: '0042' }) });
    const p = await pile(s);
    p.write(rawFrame(0x09, PILE, '0100'));
    should((await p.next(0x0a, undefined, 5000)).body.modelCode).equal('0042');
  });

  it('no tariff ("none"): ONE problem per pile naming the fix (zh-CN), not one per check; none after a tariff is given', async () => {
    const { s, caught } = await load({ tariffMode: 'none' }, 'zh-CN');
    const a = await pile(s);
    const b = await pile(s, PILE2);
    for (let i = 0; i < 4; i++) {
      a.write(rawFrame(0x09, PILE, `0${i + 1}00`));
      a.write(rawFrame(0x05, `${PILE}0001`, `1${i}00`));
      b.write(rawFrame(0x09, PILE2, `2${i}00`));
    }
    // The pile's last frame was handled once its heartbeat answer comes back (frames are handled in order).
    for (const [p, no] of [[a, PILE], [b, PILE2]] as const) {
      p.write(rawFrame(0x03, `${no}0100`, '0900'));
      await p.next(0x04, undefined, 5000);
    }
    await eventually(() => caught.msgs.length >= 2, 5000, 'two problems');
    await new Promise((r) => setTimeout(r, 200));
    const tariffProblems = caught.msgs.filter((m: Msg) => m.error?.code === 'YKC_TARIFF');
    should(tariffProblems.map((m: Msg) => m.payload.pileNo).sort()).eql([PILE, PILE2]);
    should(tariffProblems[0].error.message).match(/充电桩 3201020000000[12] 请求计费模型，但没有为它设置计费模型/);
    should(tariffProblems[0].error.message).containEql('ykc tariff');
    should(a.frames.filter((f) => f.type === 0x0a || f.type === 0x06)).have.length(0);
    // Given a model (as ykc-tariff does), the pile is answered; taking it away again reports again once.
    s.gateway!.setTariff(PILE, DEFAULT_TARIFF);
    a.write(rawFrame(0x09, PILE, '3000'));
    await a.next(0x0a, undefined, 5000);
    s.gateway!.setTariff(PILE, null);
    a.write(rawFrame(0x09, PILE, '3100'));
    a.write(rawFrame(0x09, PILE, '3200'));
    await eventually(() => caught.msgs.filter((m: Msg) => m.error?.code === 'YKC_TARIFF').length === 3, 5000, 'the second report for the pile');
  });
});
