/**
 * The `npm start` demo as a newcomer sees it: Node-RED with the pack and examples/demo.json, the
 * dashboard (http://…/dashboard) in Chromium. The virtual piles appear in the table, a gun picked
 * in the list is started and stopped with the buttons, its record is stored (SQLite) and listed,
 * the orders view (ykc orders) lists the charging order, and the schedule gets other guns charging on its own. Screenshots: screenshots/dashboard/.
 *
 * Only change for speed: the piles' clock runs 20× (realtime frames every 0.75 s).
 */
import * as path from 'path';
import should from 'should';
import sqlite3 from 'sqlite3';
import type { Browser, Page } from 'playwright-core';
import { deployable, launchChromium, readExample, screenshotDir } from './browser';
import { NodeRed, packDir, startNodeRed } from './nodered';

const AC_PILE = '32010200000003';

function query<T>(file: string, sql: string): Promise<T[]> {
  return new Promise((resolve, reject) => {
    const db = new sqlite3.Database(file, sqlite3.OPEN_READONLY, (e) => {
      if (e) return reject(e);
      db.all(sql, (err, rows) => db.close(() => (err ? reject(err) : resolve(rows as T[]))));
    });
  });
}

describe('demo dashboard in Chromium', function () {
  this.timeout(180_000);
  let nr: NodeRed;
  let browser: Browser;
  let page: Page;
  let dbFile: string;
  const shots = screenshotDir('dashboard');
  const shot = (name: string) => page.screenshot({ path: path.join(shots, `${name}.png`), fullPage: true });

  before(async () => {
    const flows = await deployable(readExample('demo.json'));
    for (const n of flows) if (n.type === 'ykc-pile') n.speed = 20;
    dbFile = flows.find((n) => n.type === 'sqlitedb')!.db;
    nr = await startNodeRed({ linkPack: packDir(), flows });
    browser = await launchChromium();
    page = await (await browser.newContext({ locale: 'zh-CN', viewport: { width: 1280, height: 1000 } })).newPage();
  });

  after(async () => {
    await browser?.close();
    await nr?.stop();
  });

  it('opens at /dashboard and lists the three piles and their four guns', async () => {
    await page.goto(`${nr.url}/dashboard`);
    await page.waitForFunction(() => document.querySelectorAll('table.ykc-table tbody tr[class^="ykc-gun-"]').length === 4, null, { timeout: 30_000 });
    const piles = await page.$$eval('table.ykc-table tbody tr td:first-child', (tds) => tds.map((td) => (td.textContent || '').trim().slice(0, 14)));
    should(piles).eql(['32010200000001', '32010200000001', '32010200000002', AC_PILE]);
    await shot('1-piles-online');
  });

  it('Plug in + start on the chosen gun: it charges, the last command says accepted, the chart draws', async () => {
    await page.locator('[id="nrdb-ui-widget-demo.ui.gun"] .v-field').click();
    await page.locator('.v-overlay .v-list-item', { hasText: AC_PILE }).first().click();
    await page.getByRole('button', { name: /Plug in \+ start/ }).click();
    const acRow = page.locator('table.ykc-table tbody tr', { hasText: AC_PILE });
    await acRow.locator('text=充电中 charging').waitFor({ timeout: 20_000 });
    // "start … ✔ accepted", soon replaced by "⚡ charging …" once the pile reports charging.
    await page.getByText(new RegExp(`(${AC_PILE} / 1: ✔|⚡.*${AC_PILE} / 1)`)).first().waitFor({ timeout: 20_000 });
    should(await page.locator('canvas').count()).be.above(0);
    await shot('2-started');
  });

  it('the orders view lists the charging order with its state and age (ykc orders); no alarm', async () => {
    const order = page.locator('[id="nrdb-ui-widget-demo.ui.orders"] tbody tr', { hasText: AC_PILE }).filter({ hasText: '充电中 charging' });
    await order.first().waitFor({ timeout: 20_000 });
    const text = (await order.first().textContent()) ?? '';
    should(text).match(/\d+:\d{2}/); // the age
    should(text).match(/远程 remote/);
    await page.getByText('订单告警 Order alarms').waitFor();
    should(await page.locator('[id="nrdb-ui-widget-demo.ui.alarms"] tbody tr', { hasText: /startNotConfirmed|realtimeSilent|offlineWhileCharging|record|meterAnomaly|tradeReused|auditFailed/ }).count()).equal(0);
    await shot('2b-orders');
  });

  it('Stop: the session ends, its record is stored in SQLite and appears under the records', async () => {
    await page.getByRole('button', { name: /停止 Stop/ }).click();
    await page.locator('[id="nrdb-ui-widget-demo.ui.records"] tbody tr', { hasText: AC_PILE }).first().waitFor({ timeout: 30_000 });
    const rows = await query<{ trade_no: string; pile_no: string; audit_ok: number }>(dbFile, `SELECT trade_no, pile_no, audit_ok FROM ykc_records WHERE pile_no = '${AC_PILE}'`);
    should(rows).have.length(1);
    should(rows[0].audit_ok).equal(1);
    await page.locator('[id="nrdb-ui-widget-demo.ui.records"] tbody tr', { hasText: rows[0].trade_no }).waitFor();
    await shot('3-record-stored');
  });

  it('the charging schedule starts other guns on its own', async () => {
    await page.waitForFunction(
      (ac) => Array.from(document.querySelectorAll('table.ykc-table tbody tr.ykc-gun-charging')).some((tr) => !(tr.textContent || '').includes(ac)),
      AC_PILE,
      { timeout: 90_000 },
    );
    await shot('4-schedule-running');
    should(nr.log()).not.match(/\[error\]/);
  });
});
