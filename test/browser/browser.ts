/**
 * Debian's Chromium driven by playwright-core (no browser download), and the shipped examples as
 * one flow for a real Node-RED (ports made free, files made temporary).
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { Browser } from 'playwright-core';
import { REPO_ROOT } from '../support/repo';
import { freePort } from '../support/ports';

/** Debian's chromium (apt-get install chromium), or CHROMIUM_PATH. */
export const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

export async function launchChromium(): Promise<Browser> {
  if (!fs.existsSync(CHROMIUM)) throw new Error(`no Chromium at ${CHROMIUM}: apt-get install -y chromium fonts-wqy-microhei (or set CHROMIUM_PATH)`);
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { chromium } = require('playwright-core') as typeof import('playwright-core');
  return chromium.launch({
    executablePath: CHROMIUM,
    // Root in CI needs --no-sandbox; the rest keeps Chromium off the (closed) network.
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
  });
}

/** Where screenshots go (git-ignored): <repo>/screenshots/<sub>. */
export function screenshotDir(sub: string): string {
  const dir = path.join(REPO_ROOT, 'screenshots', sub);
  fs.mkdirSync(dir, { recursive: true });
  return dir;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type FlowNode = Record<string, any>;

export function exampleFiles(): string[] {
  return fs
    .readdirSync(path.join(REPO_ROOT, 'examples'))
    .filter((f) => f.endsWith('.json'))
    .sort();
}

export function readExample(file: string): FlowNode[] {
  return JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'examples', file), 'utf8'));
}

/**
 * Flows made safe to deploy on a test machine: every ykc-server and tcp-in on a free loopback port
 * (pile nodes follow their server), MQTT brokers pointed at a closed port and not connecting,
 * SQLite in a temporary file. Config nodes shared between examples (same id) appear once.
 */
export async function deployable(nodes: FlowNode[]): Promise<FlowNode[]> {
  const seen = new Set<string>();
  const out: FlowNode[] = [];
  const ports = new Map<string, number>();
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ykc-flows-'));
  for (const n0 of nodes) {
    if (seen.has(n0.id)) continue;
    seen.add(n0.id);
    const n = { ...n0 };
    if (n.type === 'ykc-server') {
      const p = await freePort();
      ports.set(String(n0.port), p);
      ports.set(n.id, p);
      Object.assign(n, { host: '127.0.0.1', port: p });
    } else if (n.type === 'tcp in' && n.server === 'server') {
      Object.assign(n, { host: '', port: String(await freePort()) });
    } else if (n.type === 'mqtt-broker') {
      Object.assign(n, { broker: '127.0.0.1', port: String(await freePort()), autoConnect: false });
    } else if (n.type === 'sqlitedb') {
      n.db = path.join(tmp, `${n.id.replace(/\W/g, '_')}.db`);
    }
    out.push(n);
  }
  // An example without its own tab (Import puts it into the current one) gets a tab of its own.
  const tabs = new Set(out.filter((n) => n.type === 'tab' || n.type === 'subflow').map((n) => n.id));
  for (const z of new Set(out.map((n) => n.z).filter(Boolean))) {
    if (!tabs.has(z)) {
      out.unshift({ id: z, type: 'tab', label: `example ${z}`, disabled: false, info: '' });
      tabs.add(z);
    }
  }
  for (const n of out) {
    if (n.type !== 'ykc-pile') continue;
    const p = (n.server && ports.get(n.server)) || ports.get(String(n.port));
    if (p !== undefined && n.port !== undefined) n.port = p;
  }
  return out;
}

/** Every type of the pack (package.json node-red.nodes). */
export function packTypes(): string[] {
  return Object.keys(JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8'))['node-red'].nodes);
}

/** A node's message catalogue in one language. */
export function catalogue(type: string, lang: string): Record<string, any> { // eslint-disable-line @typescript-eslint/no-explicit-any
  return JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'nodes', 'locales', lang, `${type}.json`), 'utf8'))[type];
}
