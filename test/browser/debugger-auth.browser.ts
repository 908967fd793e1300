/**
 * Outside review (issue 15): the YKC sidebar in Chromium behind adminAuth, the way production runs
 * Node-RED. The editor holds its token in localStorage and sends it as a header with every
 * XHR; a plain link does not, so the capture download must go through the editor's XHR too.
 */
import * as fs from 'fs';
import should from 'should';
import type { Browser } from 'playwright-core';
import { launchChromium } from './browser';
import { NodeRed, packDir, startNodeRed } from './nodered';
import { freePort } from '../support/ports';
import { parseCaptureLine } from '../../src/gateway/capture';

const PILE = '32010200000811';

describe('editor: YKC sidebar behind adminAuth (Chromium)', function () {
  this.timeout(180_000);
  let nr: NodeRed;
  let browser: Browser;

  before(async () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const bcrypt = require('bcryptjs') as { hashSync(p: string, r: number): string };
    const port = await freePort();
    nr = await startNodeRed({
      linkPack: packDir(),
      flows: [
        { id: 'auth.tab', type: 'tab', label: 'auth' },
        { id: 'auth.gw', type: 'ykc-server', host: '127.0.0.1', port, persist: false },
        { id: 'auth.pile', z: 'auth.tab', type: 'ykc-pile', server: 'auth.gw', pileNo: PILE, pileType: 'AC', guns: 1, speed: 1, autoConnect: true, x: 200, y: 100, wires: [[], []] },
      ],
      settings: { adminAuth: { type: 'credentials', users: [{ username: 'admin', password: bcrypt.hashSync('secret-pw', 8), permissions: '*' }] } },
    });
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
    await nr?.stop();
  });

  it('a logged-in user downloads the pile\'s capture (not a 401 page)', async () => {
    const ctx = await browser.newContext({ viewport: { width: 1500, height: 950 }, acceptDownloads: true });
    try {
      const page = await ctx.newPage();
      await page.goto(`${nr.url}/`);
      await page.locator('#node-dialog-login-username').fill('admin');
      await page.locator('#node-dialog-login-password').fill('secret-pw');
      await page.locator('#node-dialog-login-submit').click();
      await page.waitForSelector('#red-ui-palette-container-ykc .red-ui-palette-node', { timeout: 60_000 });
      await page.evaluate(() => (window as any).RED.sidebar.show('ykc-debugger')); // eslint-disable-line @typescript-eslint/no-explicit-any
      const row = page.locator(`tr.ykc-dbg-pile[data-pile="${PILE}"]`);
      await row.waitFor({ timeout: 30_000 });
      await row.click();
      // A frame both ways in the buffer: send one from the sidebar and wait for the pile's answer.
      await page.selectOption('.ykc-dbg-sendtype', String(0x12));
      await page.locator('.ykc-dbg-fields [data-field="gunNo"]').fill('1');
      await page.locator('.ykc-dbg-sendbutton').click();
      await page.waitForFunction(() => /0x13/.test(document.querySelector('.ykc-dbg-result')?.textContent || ''), undefined, { timeout: 20_000 });
      const dl = page.waitForEvent('download', { timeout: 20_000 });
      await page.locator('.ykc-dbg-cap-pile').click();
      const download = await dl;
      should(download.suggestedFilename()).match(/^ykc-32010200000811-.*\.jsonl$/);
      const text = fs.readFileSync((await download.path())!, 'utf8');
      const lines = text.split('\n').map(parseCaptureLine).filter(Boolean);
      should(lines.length).be.above(1);
      should(lines.some((l) => l!.dir === 'out' && l!.type === 0x12)).be.true();
    } finally {
      await ctx.close();
    }
  });
});
