/**
 * The editor in a real browser (Debian's Chromium + playwright-core) against a real Node-RED with
 * the pack installed and every shipped example deployed, in English and in Chinese (the browser's
 * language, as a Chinese user's browser would say): the palette, every node's dialog and help, a
 * tariff grid painted with the mouse and deployed. Screenshots go to screenshots/editor/<lang>/
 * (git-ignored) for a person to judge how the editor reads.
 */
import * as path from 'path';
import should from 'should';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { catalogue, deployable, exampleFiles, launchChromium, packTypes, readExample, screenshotDir } from './browser';
import { httpGet, NodeRed, packDir, startNodeRed } from './nodered';
import { ScriptedPile } from '../support/pile-client';
import { rawFrame } from '../support/raw';

const CONFIG_TYPES = new Set(['ykc-server']);
const LANGS = ['en-US', 'zh-CN'] as const;
/** Help section titles (docs/style.md): at least "Details" and one of the others in every help. */
const SECTIONS = {
  'en-US': { details: 'Details', any: ['Properties', 'Inputs', 'Outputs'] },
  'zh-CN': { details: '详细', any: ['属性', '输入', '输出'] },
};
const CJK = /[\u4e00-\u9fff]/;

declare const RED: any; // eslint-disable-line @typescript-eslint/no-explicit-any

/** The redeployed server may take a moment to listen again. */
async function eventuallyConnect(port: number, timeoutMs = 15_000): Promise<ScriptedPile> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await ScriptedPile.connect(port);
    } catch (e) {
      if (Date.now() > until) throw e;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

describe('editor in Chromium (en-US, zh-CN)', function () {
  this.timeout(240_000);
  let nr: NodeRed;
  let browser: Browser;
  const types = packTypes();
  const paletteTypes = types.filter((t) => !CONFIG_TYPES.has(t));

  before(async () => {
    const flows = await deployable(exampleFiles().flatMap(readExample));
    nr = await startNodeRed({ linkPack: packDir(), flows });
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
    await nr?.stop();
  });

  it('Node-RED loaded every node of the pack without an error', () => {
    const bad = nr.log().split('\n').filter((l) => /\[(error|warn)\].*ykc|Waiting for missing types/i.test(l));
    should(bad).eql([]);
  });

  for (const lang of LANGS) {
    describe(lang, () => {
      let ctx: BrowserContext;
      let page: Page;
      const shots = screenshotDir(path.join('editor', lang));
      const shot = (name: string) => page.screenshot({ path: path.join(shots, `${name}.png`) });

      before(async () => {
        ctx = await browser.newContext({ locale: lang, viewport: { width: 1400, height: 950 } });
        page = await ctx.newPage();
        await page.goto(`${nr.url}/`);
        await page.waitForSelector('#red-ui-palette-container-ykc .red-ui-palette-node', { timeout: 60_000 });
        // The editor picked the browser's language.
        should(await page.evaluate(() => RED.i18n.lang())).equal(lang);
      });

      after(async () => {
        await ctx?.close();
      });

      it('palette: category "ykc" holds every node of the pack, labelled from the catalogue, one colour, its own icon', async () => {
        const found = await page.evaluate(() =>
          Array.from(document.querySelectorAll('#red-ui-palette-container-ykc .red-ui-palette-node')).map((e) => ({
            type: e.getAttribute('data-palette-type'),
            label: (e.textContent || '').replace(/\s+/g, ' ').trim(),
            colour: getComputedStyle(e).backgroundColor,
            icon: getComputedStyle(e.querySelector('.red-ui-palette-icon')!).backgroundImage,
          })),
        );
        await page.evaluate(() => document.getElementById('red-ui-palette-container-ykc')!.scrollIntoView());
        await page.locator('#red-ui-palette-container-ykc').screenshot({ path: path.join(shots, 'palette.png') });
        should(found.map((f) => f.type).sort()).eql([...paletteTypes].sort());
        for (const f of found) {
          const want = String(catalogue(String(f.type), lang).paletteLabel).replace(/\s+/g, ' ');
          should(f.label).equal(want, `${f.type} palette label`);
          should(f.colour).equal('rgb(143, 209, 168)', `${f.type} colour`);
          const icon = /url\("?(.*?)"?\)/.exec(f.icon)?.[1] ?? '';
          should(icon).endWith(`/${f.type}.svg`);
          const res = await httpGet(icon);
          should(res.status).equal(200, `${icon}`);
          should(res.text).match(/<svg/);
        }
        if (lang === 'zh-CN') should(found.some((f) => CJK.test(f.label))).be.true();
      });

      it('every node: the dialog opens translated and valid, the help has its sections', async () => {
        const problems: string[] = [];
        for (const type of types) {
          try {
            await checkNode(type);
          } catch (e) {
            problems.push(`${type}: ${(e as Error).message.split('\n')[0]}`);
          } finally {
            await closeEditors();
          }
        }
        if (problems.length) throw new Error(`${problems.length} node(s) failed:\n${problems.join('\n')}`);
      });

      /**
       * Deploys. Node-RED asks before deploying a workspace with invalid nodes; the "every node" test
       * above reports those, so here the question is answered and the deploy's own result judged.
       */
      async function deploy(): Promise<void> {
        await page.click('#red-ui-header-button-deploy');
        const confirm = page.locator('#red-ui-deploy-dialog-confirm-deploy-deploy');
        const done = page.waitForFunction(() => !RED.nodes.dirty(), undefined, { timeout: 30_000 });
        const asked = confirm.waitFor({ state: 'visible', timeout: 3000 }).then(() => confirm.click(), () => undefined);
        await asked;
        await done;
      }

      async function closeEditors(): Promise<void> {
        // Cancel every edit tray still open (a failed check may leave one, or a config tray over a node's).
        for (let i = 0; i < 4; i++) {
          const trays = await page.locator('.red-ui-tray').count();
          const cancel = page.locator('#node-config-dialog-cancel:visible, #node-dialog-cancel:visible').last();
          if (!trays || !(await cancel.count())) return;
          await cancel.click();
          await page.waitForFunction((n) => document.querySelectorAll('.red-ui-tray').length < n, trays);
        }
      }

      async function checkNode(type: string): Promise<void> {
        {
          const opened = await page.evaluate(
            ({ type, config }) => {
              let node = config ? null : RED.nodes.filterNodes({ type })[0];
              if (config) {
                RED.nodes.eachConfig((c: { type: string }) => {
                  if (!node && c.type === type) node = c;
                });
                if (!node) return null;
                RED.editor.editConfig('', type, node.id);
              } else {
                if (!node) return null;
                RED.workspaces.show(node.z);
                RED.editor.edit(node);
              }
              return node.id;
            },
            { type, config: CONFIG_TYPES.has(type) },
          );
          should(typeof opened).equal('string', `no ${type} node in the examples`);
          const ok = CONFIG_TYPES.has(type) ? '#node-config-dialog-ok' : '#node-dialog-ok';
          await page.waitForSelector(ok, { state: 'visible' });
          // Let oneditprepare finish (typed inputs, grids) before judging the form.
          await page.waitForFunction(() => !document.querySelector('.red-ui-tray .red-ui-editor-loading'));
          const form = await page.evaluate(() => {
            const tray = Array.from(document.querySelectorAll('.red-ui-tray')).pop()!;
            return {
              text: (tray.textContent || '').replace(/\s+/g, ' '),
              errors: Array.from(tray.querySelectorAll('.input-error')).map((e) => e.id || e.className),
            };
          });
          should(form.errors).eql([], `${type}: fields marked invalid in the shipped example: ${form.errors.join(", ")}`);
          should(form.text).not.match(new RegExp(`${type}\\.(label|placeholder|tip)\\.`), `${type}: an untranslated catalogue key`);
          if (lang === 'zh-CN') should(form.text).match(CJK, `${type}: no Chinese in the dialog`);
          await shot(`dialog-${type}`);

          await page.evaluate((t) => RED.sidebar.help.show(t), type);
          const title = String(catalogue(type, lang).paletteLabel ?? type).replace(/\s+/g, ' ');
          await page.waitForFunction(
            (want) => Array.from(document.querySelectorAll('.red-ui-sidebar-help-stack .red-ui-help-title')).some((h) => (h.textContent || '').replace(/\s+/g, ' ').trim() === want),
            title,
          );
          const help = await page.evaluate(() => {
            const box = Array.from(document.querySelectorAll('.red-ui-sidebar-help-stack .red-ui-help')).find((e) => e.querySelector('.red-ui-help-title'))!;
            return {
              title: (box.querySelector('.red-ui-help-title')?.textContent || '').trim(),
              summary: (box.querySelector('p')?.textContent || '').trim(),
              sections: Array.from(box.querySelectorAll('.red-ui-help-info-header')).map((a) => (a.textContent || '').trim()),
              text: box.textContent || '',
            };
          });
          const want = SECTIONS[lang];
          should(help.summary.length).be.above(10, `${type}: help summary`);
          should(help.sections.includes(want.details)).equal(true, `${type}: help sections ${JSON.stringify(help.sections)}`);
          should(help.sections.some((s) => want.any.includes(s))).equal(true, `${type}: help sections ${JSON.stringify(help.sections)}`);
          if (lang === 'zh-CN') should(help.summary).match(CJK, `${type}: help summary not in Chinese`);
          await shot(`help-${type}`);

          await page.click(CONFIG_TYPES.has(type) ? '#node-config-dialog-cancel' : '#node-dialog-cancel');
          await page.waitForSelector(ok, { state: 'detached' });
        }
      }

      if (lang === 'en-US') {
        it('ykc tariff: slots painted on the grid with the mouse are deployed and run', async () => {
          const id: string = await page.evaluate(() => {
            const n = RED.nodes.filterNodes({ type: 'ykc-tariff' })[0];
            RED.workspaces.show(n.z);
            RED.editor.edit(n);
            return n.id;
          });
          await page.waitForSelector('.ykc-tariff-cell[data-slot="47"]', { state: 'visible' });
          const before = await page.inputValue('#node-input-slots');
          await page.click('.ykc-tariff-brush[data-level="0"]');
          // Drag across the first six half hours (00:00–03:00).
          const first = (await page.locator('.ykc-tariff-cell[data-slot="0"]').boundingBox())!;
          const sixth = (await page.locator('.ykc-tariff-cell[data-slot="5"]').boundingBox())!;
          await page.mouse.move(first.x + first.width / 2, first.y + first.height / 2);
          await page.mouse.down();
          await page.mouse.move(sixth.x + sixth.width / 2, sixth.y + sixth.height / 2, { steps: 12 });
          await page.mouse.up();
          const painted = await page.inputValue('#node-input-slots');
          should(painted).equal('000000' + before.slice(6));
          should(await page.textContent('#ykc-tariff-summary')).match(/00:00–03:00/);
          await shot('tariff-grid-painted');
          await page.click('#node-dialog-ok');
          await page.waitForSelector('#node-dialog-ok', { state: 'detached' });
          await deploy();
          await page.waitForSelector('.red-ui-notification', { state: 'visible' });
          await shot('deployed');
          const flows = JSON.parse((await httpGet(`${nr.url}/flows`, { 'Node-RED-API-Version': 'v2' })).text);
          const deployed = flows.flows.find((n: { id: string }) => n.id === id);
          should(deployed.slots).equal(painted);
          // The runtime took the new model: sending it reaches the node's validation, not a config error.
          should(nr.log()).not.match(/\[error\] \[ykc-tariff/);
        });

        it('ykc server: the default tariff on the same grid (an older JSON tariff converted), painted, deployed, answered to a pile', async () => {
          const server: { id: string; port: number } = await page.evaluate(() => {
            let found: { id: string; port: number; tariff?: string; loginPolicy?: string } | null = null;
            RED.nodes.eachConfig((c: { id: string; type: string; port: number; tariff?: string; loginPolicy?: string; autoBillingModel?: boolean }) => {
              if (!found && c.type === 'ykc-server' && c.tariff && c.loginPolicy === 'all' && c.autoBillingModel !== false) found = c;
            });
            RED.editor.editConfig('', 'ykc-server', found!.id);
            return { id: found!.id, port: Number(found!.port) };
          });
          await page.waitForSelector('.ykc-server-tariff-cell[data-slot="47"]', { state: 'visible' });
          // The JSON tariff became the grid's fields; the legacy note shows.
          should(await page.inputValue('#node-config-input-tariffMode')).equal('form');
          should(await page.inputValue('#node-config-input-modelCode')).match(/^\d{1,4}$/);
          should(await page.isVisible('.ykc-server-tariff-legacy')).be.true();
          const before = await page.inputValue('#node-config-input-slots');
          should(before).match(/^[0-3]{48}$/);
          await page.click('.ykc-server-tariff-brush[data-level="0"]');
          // Drag across 20:00–22:00 (slots 40–43); the server's dialog is long: bring the grid into view first.
          await page.locator('.ykc-server-tariff-cell[data-slot="43"]').scrollIntoViewIfNeeded();
          const from = (await page.locator('.ykc-server-tariff-cell[data-slot="40"]').boundingBox())!;
          const to = (await page.locator('.ykc-server-tariff-cell[data-slot="43"]').boundingBox())!;
          await page.mouse.move(from.x + from.width / 2, from.y + from.height / 2);
          await page.mouse.down();
          await page.mouse.move(to.x + to.width / 2, to.y + to.height / 2, { steps: 8 });
          await page.mouse.up();
          const painted = await page.inputValue('#node-config-input-slots');
          should(painted).equal(before.slice(0, 40) + '0000' + before.slice(44));
          should(await page.textContent('#ykc-server-tariff-summary')).match(/20:00–22:00/);
          await page.fill('#node-config-input-sharpElecPrice', '2.34567');
          await shot('server-tariff-grid-painted');
          await page.click('#node-config-dialog-ok');
          await page.waitForSelector('#node-config-dialog-ok', { state: 'detached' });
          await deploy();
          const flows = JSON.parse((await httpGet(`${nr.url}/flows`, { 'Node-RED-API-Version': 'v2' })).text);
          const deployed = flows.flows.find((n: { id: string }) => n.id === server.id);
          should(deployed).containEql({ tariffMode: 'form', tariff: '', slots: painted, sharpElecPrice: '2.34567' });
          // A pile asking this gateway for its model (0x09) gets the painted one (0x0A).
          const pileNo = '32010200009901';
          const pile = await eventuallyConnect(server.port);
          try {
            pile.write(rawFrame(0x01, `${pileNo}0002 0F 56342E312E353000 01 ${'00'.repeat(10)} 04`, '0000'));
            should((await pile.next(0x02, undefined, 10_000)).body.result).equal(0);
            pile.write(rawFrame(0x09, pileNo, '0100'));
            const model = await pile.next(0x0a, undefined, 10_000);
            should((model.body.slots as number[]).join('')).equal(painted);
            should(model.body.sharpElecPrice).equal(2.34567);
          } finally {
            pile.close();
          }
        });
      }
    });
  }
});
