/**
 * Outside review of the order watchdog (issue 14): Node-RED itself killed with SIGKILL in the middle
 * of a charge (a child-process runtime running examples/orders-alarms.json), started again on the same
 * user directory; an independent raw pile (test/support/ykc-firmware.ts) reconnects and finishes the
 * charge. The order must go on from where it was — one order, its times from before the kill — and
 * every alarm raised on the way must be cleared.
 */
import { ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import assert from 'assert/strict';
import { freePort } from '../support/ports';
import { startRedChild } from '../support/red-child';
import { Firmware, firmware, ZERO_TRADE } from '../support/ykc-firmware';

const CHILD = path.join(__dirname, 'red-orders-child.js');
const PILE = '45030000000001';
const T = `${PILE}012612050800000001`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Line {
  tradeNo: string;
  state?: string;
  code?: string;
  active?: boolean;
  chargingAt?: string;
  closeReason?: string;
  realtime?: { energy: number } | null;
}

function lines(file: string): Line[] {
  let text = '';
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  return text.split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l) as Line);
}

async function until<T>(what: string, f: () => T | undefined, ms = 20_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = f();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

const startRed = (userDir: string, port: number, states: string, alarms: string): Promise<ChildProcess> => startRedChild(CHILD, [userDir, String(port), states, alarms]);

describe('adversarial: Node-RED killed with SIGKILL mid-charge, restarted on the same user directory (examples/orders-alarms.json)', function () {
  this.timeout(180_000);
  let dir: string;
  let child: ChildProcess | null = null;
  let fw: Firmware | null = null;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ykc-adv-redorders-'));
  });
  afterEach(() => {
    fw?.pile.close();
    child?.kill('SIGKILL');
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('the order continues after the restart: one order, times from before the kill, closed confirmed; every alarm raised is cleared', async () => {
    const port = await freePort();
    const userDir = path.join(dir, 'userdir');
    fs.mkdirSync(userDir);
    const states = path.join(dir, 'states.jsonl');
    const alarms = path.join(dir, 'alarms.jsonl');
    child = await startRed(userDir, port, states, alarms);
    fw = await firmware(port, PILE, 1);
    fw.realtime(1, T, { state: 3, energy: 1000, amount: 1000, minutes: 1 });
    const charging = await until('charging', () => lines(states).find((l) => l.tradeNo === T && l.state === 'charging'));
    await sleep(800); // the journal writes in batches every 200 ms
    const dead = new Promise((r) => child!.once('exit', r));
    child.kill('SIGKILL');
    await dead;
    child = null;
    fw.pile.close();

    child = await startRed(userDir, port, states, alarms);
    fw = await firmware(port, PILE, 1);
    fw.realtime(1, T, { state: 3, energy: 5000, amount: 5000, minutes: 5 });
    fw.realtime(1, ZERO_TRADE, { state: 2, plugged: 0 });
    fw.record(1, T, { start: [2026, 12, 5, 8, 0, 0], end: [2026, 12, 5, 8, 6, 0], meterStart: 7_000_000, meterEnd: 7_005_000, energy: 5000, startType: 1, prices: [180_000, 160_000, 130_000, 80_000] }); // the example's tariff (flat 0.8 + 0.5 yuan/kWh)
    await fw.expect(0x40, 20_000);
    const closed = await until('closed', () => lines(states).find((l) => l.tradeNo === T && l.state === 'closed'));
    assert.equal(closed.closeReason, 'confirmed');
    assert.equal(closed.chargingAt, charging.chargingAt, 'the charging time from before the kill');
    const seq = lines(states).filter((l) => l.tradeNo === T).map((l) => l.state);
    assert.deepEqual(seq, ['charging', 'ended', 'recorded', 'confirmed', 'closed'], 'one order, no restart from scratch');
    await sleep(500);
    const al = lines(alarms).filter((l) => l.tradeNo === T);
    const up = al.filter((a) => a.active).map((a) => a.code);
    const down = al.filter((a) => !a.active).map((a) => a.code);
    assert.deepEqual(up.sort(), down.sort(), `every alarm raised is cleared: ${JSON.stringify(al)}`);
    assert.ok(!up.includes('tradeReused') && !up.includes('meterAnomaly') && !up.includes('auditFailed'), JSON.stringify(up));
  });
});
