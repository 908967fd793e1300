/**
 * Importing an example next to the running demo, as docs/getting-started.md §3 says, in a real editor
 * (Chromium) against a real Node-RED: Import → paste the shipped JSON → Node-RED reports the shared
 * gateway config node as already there → "Import copy". The example lands on a tab of its own and
 * uses the demo's gateway (one ykc-server after the deploy, still listening, no error in the log).
 */
import should from 'should';
import type { Browser, Page } from 'playwright-core';
import * as fs from 'fs';
import * as path from 'path';
import { deployable, launchChromium, readExample } from './browser';
import { httpGet, NodeRed, packDir, startNodeRed } from './nodered';
import { REPO_ROOT } from '../support/repo';

declare const RED: any; // eslint-disable-line @typescript-eslint/no-explicit-any

const GATEWAY = 'ykc-gateway-8768';

describe('importing an example next to the demo (editor in Chromium)', function () {
  this.timeout(180_000);
  let nr: NodeRed;
  let browser: Browser;
  let page: Page;

  before(async () => {
    nr = await startNodeRed({ linkPack: packDir(), flows: await deployable(readExample('demo.json')) });
    browser = await launchChromium();
    page = await (await browser.newContext({ locale: 'en-US', viewport: { width: 1400, height: 950 } })).newPage();
    await page.goto(`${nr.url}/`);
    await page.waitForSelector('#red-ui-palette-container-ykc .red-ui-palette-node', { timeout: 60_000 });
  });

  after(async () => {
    await browser?.close();
    await nr?.stop();
  });

  for (const file of ['mqtt-bridge.json', 'records-sqlite.json']) {
    it(`${file}: "Import copy" puts it on its own tab and keeps the demo's gateway; it deploys`, async () => {
      const shipped = fs.readFileSync(path.join(REPO_ROOT, 'examples', file), 'utf8');
      const tabLabel = (JSON.parse(shipped) as Array<{ type: string; label?: string }>).find((n) => n.type === 'tab')!.label!;
      const since = nr.log().length;

      await page.evaluate(() => RED.actions.invoke('core:show-import-dialog'));
      const text = page.locator('#red-ui-clipboard-dialog-import-text');
      await text.fill(shipped);
      await text.press('End'); // the dialog checks the JSON on keyup
      await page.locator('#red-ui-clipboard-dialog-ok').click();
      // "Some of the nodes being imported already exist in the workspace": the shared gateway.
      const copy = page.locator('.red-ui-notification button', { hasText: 'Import copy' });
      await copy.waitFor({ timeout: 10_000 });
      await copy.click();

      const after = await page.evaluate((label: string) => {
        const servers: Array<{ id: string; name: string }> = [];
        RED.nodes.eachConfig((n: { type: string; id: string; name: string }) => {
          if (n.type === 'ykc-server') servers.push({ id: n.id, name: n.name });
        });
        const tabs: Array<{ id: string; label: string }> = [];
        RED.nodes.eachWorkspace((w: { id: string; label: string }) => {
          tabs.push({ id: w.id, label: w.label });
        });
        const tab = tabs.find((t) => t.label === label);
        const users: string[] = [];
        RED.nodes.eachNode((n: { z: string; server?: string }) => {
          if (tab && n.z === tab.id && n.server) users.push(n.server);
        });
        return { servers, tabs, tab, users };
      }, tabLabel);
      should(after.servers).eql([{ id: GATEWAY, name: 'YKC gateway :8768' }]);
      should(after.tab).be.ok();
      should(after.tabs.map((t) => t.label)).containEql('YKC demo · 云快充演示');
      should(after.users.length).be.above(0);
      should(new Set(after.users)).eql(new Set([GATEWAY]));

      // Every node valid as shipped: no "not properly configured" question before the deploy.
      should(await page.evaluate(() => { const bad: string[] = []; RED.nodes.eachNode((n: { valid: boolean; type: string; name?: string }) => { if (!n.valid) bad.push(`${n.type} ${n.name ?? ''}`); }); return bad; })).eql([]);
      await page.evaluate(() => RED.actions.invoke('core:deploy-flows'));
      await page.waitForFunction(() => !RED.nodes.dirty(), null, { timeout: 30_000 });
      await nr.waitForLog(/Started (modified )?flows/, since, 30_000);
      const flows = JSON.parse((await httpGet(`${nr.url}/flows`, { 'Node-RED-API-Version': 'v1' })).text) as Array<{ type: string; z?: string }>;
      should(flows.filter((n) => n.type === 'ykc-server')).have.length(1);
      const log = nr.log().slice(since);
      should(log).not.match(/EADDRINUSE|\[error\].*ykc/);
    });
  }
});
