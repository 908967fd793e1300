/**
 * The editor's YKC sidebar in Chromium against a real Node-RED: a ykc-server with a virtual pile
 * (ykc-pile) in the flow. In en-US and zh-CN: the tab lists the pile with its details, shows its
 * frames as they happen (decoded and hex), sends a frame from the generated form and shows the
 * pile's answer, and offers the capture download. Screenshots: screenshots/debugger/<lang>/.
 * The HTTP side is checked too: the capture parses, a read-only user cannot send, nothing is
 * tapped without a watcher.
 */
import * as path from 'path';
import should from 'should';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { launchChromium, screenshotDir } from './browser';
import { httpGet, NodeRed, packDir, startNodeRed } from './nodered';
import { freePort } from '../support/ports';
import { parseCaptureLine } from '../../src/gateway/capture';

const PILE = '32010200000801';
const LANGS = ['en-US', 'zh-CN'] as const;

async function post(url: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; json: any }> { // eslint-disable-line @typescript-eslint/no-explicit-any
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : null };
}

describe('editor: YKC sidebar (protocol debugger) in Chromium', function () {
  this.timeout(180_000);
  let nr: NodeRed;
  let browser: Browser;

  before(async () => {
    const port = await freePort();
    nr = await startNodeRed({
      linkPack: packDir(),
      flows: [
        { id: 'dbg.tab', type: 'tab', label: 'debugger' },
        { id: 'dbg.gw', type: 'ykc-server', name: 'gateway', host: '127.0.0.1', port, recordConfirm: 'at-once', persist: false },
        { id: 'dbg.pile', z: 'dbg.tab', type: 'ykc-pile', name: 'virtual', server: 'dbg.gw', pileNo: PILE, pileType: 'DC', guns: 2, version: '1.6', speed: 1, autoConnect: true, x: 200, y: 100, wires: [[], []] },
      ],
    });
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
    await nr?.stop();
  });

  it('HTTP: servers and frame forms listed; nothing tapped until watched; the pile answers a frame sent from the API', async () => {
    const servers = JSON.parse((await httpGet(`${nr.url}/ykc/debugger/servers`)).text);
    should(servers).have.length(1);
    should(servers[0]).containEql({ id: 'dbg.gw', listening: true });
    const frames = JSON.parse((await httpGet(`${nr.url}/ykc/debugger/frames`)).text);
    const reboot = frames.down.find((f: { type: number }) => f.type === 0x92);
    should(reboot.fields.find((f: { name: string }) => f.name === 'runWhen').options).eql([{ value: 1, label: 'now' }, { value: 2, label: 'when idle' }]);
    should((await httpGet(`${nr.url}/ykc/debugger/servers/dbg.gw/capture`)).text).equal('');
    // The virtual pile may still be logging in: YKC_OFFLINE (409) until it is.
    let sent = { status: 0, json: null as any }; // eslint-disable-line @typescript-eslint/no-explicit-any
    for (let i = 0; i < 40 && sent.status !== 200; i++) {
      sent = await post(`${nr.url}/ykc/debugger/servers/dbg.gw/piles/${PILE}/send`, { type: 0x12, body: { gunNo: 2 } });
      if (sent.status === 409) await new Promise((x) => setTimeout(x, 250));
      else break;
    }
    should(sent.status).equal(200);
    should(sent.json.reply).containEql({ type: 0x13 });
    should(sent.json.reply.body).containEql({ pileNo: PILE, gunNo: 2 });
    const bad = await post(`${nr.url}/ykc/debugger/servers/dbg.gw/piles/${PILE}/send`, { type: 0x12, body: { gunNo: 'x' } });
    should(bad.status).equal(400);
    should(bad.json.code).equal('YKC_FIELD');
    should((await post(`${nr.url}/ykc/debugger/servers/dbg.gw/piles/${PILE}/send`, { type: 0x13 })).status).equal(400);
    should((await post(`${nr.url}/ykc/debugger/servers/nope/watch`, { watcher: 'x' })).status).equal(404);
  });

  for (const lang of LANGS) {
    describe(lang, () => {
      let ctx: BrowserContext;
      let page: Page;
      const shots = screenshotDir(path.join('debugger', lang));

      before(async () => {
        ctx = await browser.newContext({ locale: lang, viewport: { width: 1500, height: 950 }, acceptDownloads: true });
        page = await ctx.newPage();
        await page.goto(`${nr.url}/`);
        await page.waitForSelector('#red-ui-palette-container-ykc .red-ui-palette-node', { timeout: 60_000 });
        // Widen the sidebar so the pile table reads.
        await page.evaluate(() => {
          const s = document.getElementById('red-ui-sidebar')!;
          s.style.width = '640px';
          window.dispatchEvent(new Event('resize'));
        });
      });
      after(() => ctx?.close());

      it('the YKC tab lists the pile, shows its frames live, sends a frame and shows the answer', async () => {
        await page.evaluate(() => (window as any).RED.sidebar.show('ykc-debugger')); // eslint-disable-line @typescript-eslint/no-explicit-any
        const row = page.locator(`tr.ykc-dbg-pile[data-pile="${PILE}"]`);
        await row.waitFor({ timeout: 20_000 });
        should(await row.innerText()).match(/1\.6/).and.match(/SIM-1\.00/);
        const title = await page.locator('.ykc-dbg-table th').first().innerText();
        should(title).equal(lang === 'zh-CN' ? '桩编号' : 'pile');
        await row.click();
        // Heartbeats come every 10 s; a frame we send comes at once.
        await page.selectOption('.ykc-dbg-sendtype', String(0x12));
        await page.locator('.ykc-dbg-fields [data-field="gunNo"]').fill('1');
        await page.locator('.ykc-dbg-sendbutton').click();
        await page.waitForFunction(() => /0x13/.test(document.querySelector('.ykc-dbg-result')?.textContent || ''), undefined, { timeout: 15_000 });
        const result = await page.locator('.ykc-dbg-result').innerText();
        should(result).match(/"gunNo": 1/);
        // Both directions in the live list, with the frame names in the user's language.
        await page.waitForSelector('.ykc-dbg-frame.out', { timeout: 10_000 });
        await page.waitForSelector('.ykc-dbg-frame.in', { timeout: 15_000 });
        const names = await page.locator('.ykc-dbg-frame .ykc-dbg-name').allInnerTexts();
        should(names.join(' ')).match(/readRealtime/);
        if (lang === 'zh-CN') should(names.join(' ')).match(/[\u4e00-\u9fff]/);
        // Expand one: decoded fields and the hex bytes.
        await page.locator('.ykc-dbg-frame.out .ykc-dbg-head').first().click();
        const detail = await page.locator('.ykc-dbg-frame.out .ykc-dbg-detail').first().innerText();
        should(detail).match(/"pileNo": "32010200000801"/).and.match(/68 /);
        await page.screenshot({ path: path.join(shots, 'sidebar.png') });
        // Type filter: only 0x13 left.
        await page.locator('.ykc-dbg-filter').fill('0x13');
        await page.waitForFunction(() => Array.from(document.querySelectorAll('.ykc-dbg-frame .ykc-dbg-type')).every((e) => e.textContent === '0x13'));
        await page.locator('.ykc-dbg-filter').fill('');
      });

      it('downloads the pile\'s capture as JSON lines', async () => {
        const dl = page.waitForEvent('download');
        await page.locator('.ykc-dbg-cap-pile').click();
        const file = await (await dl).path();
        const text = require('fs').readFileSync(file, 'utf8') as string; // eslint-disable-line @typescript-eslint/no-require-imports
        const lines = text.split('\n').map(parseCaptureLine).filter(Boolean);
        should(lines.length).be.above(1);
        should(lines.every((l) => l!.pileNo === PILE)).be.true();
        should(lines.some((l) => l!.dir === 'out' && l!.type === 0x12)).be.true();
      });
    });
  }

  it('a read-only user sees piles but cannot send; without a token nothing is served', async () => {
    // A second runtime with adminAuth: "viewer" may read, "admin" may do everything.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const bcrypt = require('bcryptjs') as { hashSync(p: string, r: number): string };
    const hash = bcrypt.hashSync('secret-pw', 8);
    const port = await freePort();
    const secured = await startNodeRed({
      linkPack: packDir(),
      flows: [
        { id: 'sec.tab', type: 'tab', label: 's' },
        { id: 'sec.gw', type: 'ykc-server', host: '127.0.0.1', port, persist: false },
        { id: 'sec.pile', z: 'sec.tab', type: 'ykc-pile', server: 'sec.gw', pileNo: PILE, pileType: 'AC', guns: 1, speed: 1, autoConnect: true, wires: [[], []] },
      ],
      settings: {
        adminAuth: {
          type: 'credentials',
          users: [
            { username: 'viewer', password: hash, permissions: 'read' },
            { username: 'admin', password: hash, permissions: '*' },
            // May see the editor's status but not ykc-server: the sidebar's data must not reach it.
            { username: 'statusonly', password: hash, permissions: ['status.read', 'flows.read'] },
          ],
        },
      },
    });
    try {
      const token = async (username: string) =>
        (await post(`${secured.url}/auth/token`, { client_id: 'node-red-admin', grant_type: 'password', scope: '', username, password: 'secret-pw' })).json.access_token as string;
      should((await httpGet(`${secured.url}/ykc/debugger/servers`)).status).equal(401);
      const viewer = { authorization: `Bearer ${await token('viewer')}` };
      should((await httpGet(`${secured.url}/ykc/debugger/servers`, viewer)).status).equal(200);
      const send = { type: 0x12, body: { gunNo: 1 } };
      // Node-RED answers a missing permission with 401, as for a missing token.
      should((await post(`${secured.url}/ykc/debugger/servers/sec.gw/piles/${PILE}/send`, send, viewer)).status).equal(401);
      const admin = { authorization: `Bearer ${await token('admin')}` };
      // A user without ykc-server.read listens on the editor's comms socket while the admin watches:
      // comms reach every editor, so they must carry only notices, never frames or piles.
      const statusOnly = await token('statusonly');
      should((await httpGet(`${secured.url}/ykc/debugger/servers`, { authorization: `Bearer ${statusOnly}` })).status).equal(401);
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const WebSocket = require('ws') as typeof import('ws');
      const ws = new WebSocket(secured.url.replace('http', 'ws') + '/comms');
      const heard: Array<{ topic: string; data: unknown }> = [];
      await new Promise((x) => ws.once('open', x));
      ws.on('message', (m: Buffer) => {
        const j = JSON.parse(m.toString());
        for (const e of Array.isArray(j) ? j : [j]) if (typeof e.topic === 'string' && e.topic.startsWith('ykc/')) heard.push(e);
      });
      ws.send(JSON.stringify({ auth: statusOnly }));
      await new Promise((x) => setTimeout(x, 300));
      ws.send(JSON.stringify({ subscribe: 'ykc/#' }));
      should((await post(`${secured.url}/ykc/debugger/servers/sec.gw/watch`, { watcher: 'admin-tab' }, admin)).status).equal(200);
      // The pile may still be logging in: retry the admin's send for a few seconds.
      let r = { status: 0, json: null as any }; // eslint-disable-line @typescript-eslint/no-explicit-any
      for (let i = 0; i < 20 && r.status !== 200; i++) {
        r = await post(`${secured.url}/ykc/debugger/servers/sec.gw/piles/${PILE}/send`, send, admin);
        if (r.status !== 200) await new Promise((x) => setTimeout(x, 500));
      }
      should(r.status).equal(200);
      const watched = await post(`${secured.url}/ykc/debugger/servers/sec.gw/watch`, { watcher: 'admin-tab', after: 0 }, admin);
      should(watched.json.frames.some((f: { type: number }) => f.type === 0x13)).be.true();
      for (let i = 0; i < 40 && !heard.some((e) => e.topic.endsWith('/frames')); i++) await new Promise((x) => setTimeout(x, 100));
      ws.close();
      should(heard.some((e) => e.topic === 'ykc/debugger/sec.gw/frames')).be.true();
      const leaked = heard.filter((e) => /"hex"|"frames"|"pileNo"|3201/.test(JSON.stringify(e.data)));
      should(leaked).eql([]);
    } finally {
      await secured.stop();
    }
  });
});
