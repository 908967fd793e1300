/**
 * First hour after `git pull`: npm start keeps .node-red-user/flows.json, so a checkout updated from
 * before the demo commanded only its own piles (DEMO_PILES) still runs the old demo, which starts and
 * stops every pile on the gateway — real ones included. npm start must say so (EN + ZH) and how to
 * replace it; the current demo, a disabled old demo, or no demo at all say nothing.
 *
 * The real scripts/start.js in a sandbox checkout (as test/scripts/start.spec.ts): Node-RED really
 * starts; the test waits until the editor answers, then stops it.
 */
import * as fs from 'fs';
import * as path from 'path';
import should from 'should';
import { freePort } from '../support/ports';
import { REPO_ROOT } from '../support/repo';
import { sandboxCheckout, startUntilEditor } from '../support/start-script';

describe('first hour: npm start after an update, with the old demo flow still in .node-red-user', function () {
  this.timeout(240_000);
  let dir: string;
  const flows = () => path.join(dir, '.node-red-user', 'flows.json');
  const shippedTab = () => (JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'examples', 'demo.json'), 'utf8')) as Array<Record<string, unknown>>).find((n) => n.type === 'tab')!;

  async function startOutput(): Promise<string> {
    const port = await freePort();
    return startUntilEditor(dir, port, { PORT: String(port), HOST: '127.0.0.1', YKC_DEMO_RESET: '' });
  }

  before(() => {
    dir = sandboxCheckout('ykc-first-hour-start-');
    // A build that is current (dist newer than every source): start.js builds nothing.
    const old = new Date(Date.now() - 3600_000);
    fs.utimesSync(path.join(dir, 'src', 'index.ts'), old, old);
    fs.mkdirSync(path.join(dir, 'dist', 'nodes'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'dist', 'nodes', 'ykc-server.js'), '');
    fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'sandbox', private: true, scripts: { build: 'node -e ""' } }));
    fs.mkdirSync(path.join(dir, '.node-red-user'));
  });

  after(() => {
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('the demo tab without DEMO_PILES (as shipped before): a warning in English and Chinese naming YKC_DEMO_RESET=1', async () => {
    const tab = { ...shippedTab() };
    delete tab.env;
    fs.writeFileSync(flows(), JSON.stringify([tab]));
    const out = await startOutput();
    should(out).match(/older demo flow that commands EVERY pile/);
    should(out).match(/YKC_DEMO_RESET=1 npm start/);
    should(out).match(/旧版演示流程/);
  });

  it('the current demo tab (DEMO_PILES), the old one disabled, or no demo: no warning', async () => {
    const tab = shippedTab();
    should(tab.env).be.an.Array();
    const old: Record<string, unknown> = { ...tab, disabled: true };
    delete old.env;
    for (const content of [[tab], [old], [{ id: 'mine', type: 'tab', label: 'my flow' }]]) {
      fs.writeFileSync(flows(), JSON.stringify(content));
      const out = await startOutput();
      should(out).not.match(/older demo flow/);
      should(out).match(/Starting Node-RED with @openykc\/node-red-ykc/);
    }
  });
});
