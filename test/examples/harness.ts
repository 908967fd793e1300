/**
 * Loads a shipped example flow (examples/*.json) into a real Node-RED runtime
 * (node-red-node-test-helper) as a user would import it, with only what a test must change:
 *
 * - fixed ports become free ports found now (ykc-server, tcp in) or the test's own broker (mqtt-broker);
 * - the SQLite file becomes a temporary file;
 * - dashboard widgets (ui-*) become "helper" nodes, so what the flow shows is observable and a
 *   button press is `press(id, msg)`; the dashboard's config nodes are dropped;
 * - debug nodes become helper nodes too (what the flow reports is observable).
 *
 * Everything else (functions, switches, wiring, ykc node settings) runs exactly as shipped.
 */
import { freePort } from '../support/ports';
import * as fs from 'fs';
import * as http from 'http';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import { pathToFileURL } from 'url';
import mqtt from 'mqtt';
import helper = require('node-red-node-test-helper');
import type { Node, NodeAPI } from 'node-red';
import { REPO_ROOT } from '../support/repo';
import type { YkcServerNode } from '../../nodes/shared/server-node';

helper.init(require.resolve('node-red'));

export { helper };
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type FlowNode = Record<string, any>;
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Msg = Record<string, any>;
type NodeModule = (RED: NodeAPI) => void;

/** Core node types → their module inside @node-red/nodes (catch / status / complete the helper loads itself). */
const CORE: Record<string, string> = {
  inject: 'common/20-inject.js',
  debug: 'common/21-debug.js',
  comment: 'common/90-comment.js',
  'link in': 'common/60-link.js',
  'link out': 'common/60-link.js',
  'link call': 'common/60-link.js',
  junction: 'common/05-junction.js',
  function: 'function/10-function.js',
  switch: 'function/10-switch.js',
  change: 'function/15-change.js',
  range: 'function/16-range.js',
  template: 'function/80-template.js',
  delay: 'function/89-delay.js',
  trigger: 'function/89-trigger.js',
  rbe: 'function/rbe.js',
  'http in': 'network/21-httpin.js',
  'http response': 'network/21-httpin.js',
  'http request': 'network/21-httprequest.js',
  'mqtt in': 'network/10-mqtt.js',
  'mqtt out': 'network/10-mqtt.js',
  'mqtt-broker': 'network/10-mqtt.js',
  'tcp in': 'network/31-tcpin.js',
  'tcp out': 'network/31-tcpin.js',
  'tcp request': 'network/31-tcpin.js',
  json: 'parsers/70-JSON.js',
  split: 'sequence/17-split.js',
  join: 'sequence/17-split.js',
  batch: 'sequence/19-batch.js',
  file: 'storage/10-file.js',
  'file in': 'storage/10-file.js',
};
const HELPER_LOADED = new Set(['catch', 'status', 'complete', 'tab', 'group']);
const DASHBOARD_CONFIG = new Set(['ui-base', 'ui-page', 'ui-group', 'ui-theme', 'ui-link']);

/** package.json's node-red.nodes: every type of the pack and its compiled file. */
export function packNodeTypes(): Record<string, string> {
  return JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8'))['node-red'].nodes;
}

export const EXAMPLES_DIR = path.join(REPO_ROOT, 'examples');

export function readExample(name: string): FlowNode[] {
  return JSON.parse(fs.readFileSync(path.join(EXAMPLES_DIR, name), 'utf8'));
}

function moduleFor(type: string): NodeModule | null {
  if (CORE[type]) return require(require.resolve(`@node-red/nodes/core/${CORE[type]}`)) as NodeModule;
  const pack = packNodeTypes();
  if (pack[type]) return require(`../../nodes/${type}`) as NodeModule;
  if (type === 'sqlite' || type === 'sqlitedb') return require('node-red-node-sqlite/sqlite.js') as NodeModule;
  return null;
}

export interface LoadOptions {
  /** mqtt-broker → this port on 127.0.0.1 (default: a closed one). */
  brokerPort?: number;
  /** sqlitedb → this file (default: a new temp file). */
  dbFile?: string;
  /** More changes to the flow before loading (tests speed up virtual piles, say). */
  patch?: (flow: FlowNode[]) => void;
  /** Node credentials by node id (e.g. ykc-ota's ftpPassword). */
  credentials?: Record<string, Record<string, string>>;
}

/** Messages arriving at one helper node, awaitable. */
export class Inbox {
  readonly msgs: Msg[] = [];
  private waiters: Array<{ pred: (m: Msg) => boolean; resolve: (m: Msg) => void }> = [];

  constructor(n: Node) {
    n.on('input', (m: Msg) => {
      this.msgs.push(m);
      const i = this.waiters.findIndex((w) => w.pred(m));
      if (i >= 0) this.waiters.splice(i, 1)[0].resolve(m);
    });
  }

  /** The first message (already arrived or coming) that matches. */
  wait(pred: (m: Msg) => boolean = () => true, timeoutMs = 5000, what = 'a message'): Promise<Msg> {
    const have = this.msgs.find(pred);
    if (have) return Promise.resolve(have);
    return new Promise((resolve, reject) => {
      const w = {
        pred,
        resolve: (m: Msg) => {
          clearTimeout(timer);
          resolve(m);
        },
      };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((x) => x !== w);
        reject(new Error(`no ${what} within ${timeoutMs} ms (got ${this.msgs.length}: ${JSON.stringify(this.msgs.map((m) => m.topic ?? m.payload)).slice(0, 400)})`));
      }, timeoutMs);
      this.waiters.push(w);
    });
  }
}

export interface Loaded {
  flow: FlowNode[];
  /** Port the example's ykc-server listens on (the first one). */
  ykcPort: number;
  server: YkcServerNode;
  dbFile: string;
  /** Base URL of the flow's http-in endpoints (a real HTTP server on 127.0.0.1, port 0). */
  httpUrl: string;
  node(id: string): Node;
  /** Messages reaching a replaced debug / dashboard node. */
  inbox(id: string): Inbox;
  /** A message into a node (an inject, or a dashboard button replaced by a helper: sent on along its wires). */
  trigger(id: string, msg?: Msg): void;
  press(id: string, msg: Msg): void;
  byType(type: string): FlowNode[];
  byName(name: string): FlowNode;
  close(): Promise<void>;
}

/** Changes an example for a test run (see the header) and loads it. */
export async function loadExample(name: string, opts: LoadOptions = {}): Promise<Loaded> {
  const original = readExample(name);
  const flow: FlowNode[] = [];
  const dbFile = opts.dbFile ?? path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'ykc-example-')), 'records.db');
  let ykcPort = 0;
  for (const n0 of original) {
    const n = { ...n0 };
    if (DASHBOARD_CONFIG.has(n.type)) continue;
    if (n.type === 'ykc-server') {
      n.host = '127.0.0.1';
      n.port = await freePort();
      n.persist = false;
      if (!ykcPort) ykcPort = n.port;
    } else if (n.type === 'mqtt-broker') {
      // No broker given: a closed port (the client retries quietly until unload).
      n.broker = '127.0.0.1';
      n.port = String(opts.brokerPort ?? (await freePort()));
    } else if (n.type === 'sqlitedb') {
      n.db = dbFile;
    } else if (n.type === 'tcp in' && n.server === 'server') {
      n.host = '';
      n.port = String(await freePort());
    } else if (n.type === 'debug' || /^ui-/.test(n.type)) {
      const keep = { id: n.id, z: n.z, name: n.name || n.label || n.type, wires: n.wires ?? [], originalType: n.type };
      flow.push({ ...keep, type: 'helper' });
      continue;
    }
    flow.push(n);
  }
  opts.patch?.(flow);

  // The pile nodes point at the server's port: keep them on the free port chosen above.
  for (const n of flow) if (n.type === 'ykc-pile' && (n.port === 8768 || n.port === '8768')) n.port = ykcPort;

  const modules = new Set<NodeModule>();
  const missing: string[] = [];
  for (const n of flow) {
    if (n.type === 'helper' || HELPER_LOADED.has(n.type)) continue;
    const m = moduleFor(n.type);
    if (m) modules.add(m);
    else missing.push(n.type);
  }
  if (missing.length) throw new Error(`${name}: no module for node types ${[...new Set(missing)].join(', ')}`);

  // http-in nodes register on RED.httpNode; serve that app on a real socket.
  let httpApp: http.RequestListener | null = null;
  const grabHttp: NodeModule = (RED) => {
    httpApp = RED.httpNode as unknown as http.RequestListener;
  };
  // The helper loads catch / status / complete once per node of that type: a flow with two Catch
  // nodes would register "catch" twice. Load each of them at most once per load.
  const h = helper as unknown as { _nodeModules: Record<string, NodeModule>; _originalModules?: Record<string, NodeModule> };
  h._originalModules ??= { ...h._nodeModules };
  for (const [type, mod] of Object.entries(h._originalModules)) {
    let loaded = false;
    h._nodeModules[type] = (RED) => {
      if (loaded) return;
      loaded = true;
      return mod(RED);
    };
  }

  const httpServer = http.createServer((req, res) => httpApp!(req, res));
  const serverDef = flow.find((n) => n.type === 'ykc-server');
  let server: YkcServerNode;
  try {
    try {
      await helper.load([grabHttp, ...modules], flow as helper.TestFlowsItem<any>[], opts.credentials ?? {}); // eslint-disable-line @typescript-eslint/no-explicit-any
    } finally {
      // The wrappers are for this load only: left in place, later specs' loads would find "catch" unregistered.
      Object.assign(h._nodeModules, h._originalModules);
    }
    await new Promise<void>((r) => httpServer.listen(0, '127.0.0.1', r));
    server = (serverDef ? helper.getNode(serverDef.id) : null) as unknown as YkcServerNode;
    if (server) await server.ready;
  } catch (e) {
    // A failed load must not leave the runtime half started (the next test's load would fail too).
    if (httpServer.listening) await new Promise<void>((r) => httpServer.close(() => r()));
    await helper.unload();
    throw e;
  }
  const httpUrl = `http://127.0.0.1:${(httpServer.address() as net.AddressInfo).port}`;
  const get = (id: string): Node => {
    const n = helper.getNode(id);
    if (!n) throw new Error(`${name}: no node ${id}`);
    return n;
  };
  // Every replaced debug / dashboard node records from the start, so no early message is missed.
  const inboxes = new Map<string, Inbox>(flow.filter((n) => n.type === 'helper').map((n) => [n.id, new Inbox(get(n.id))]));
  return {
    flow,
    ykcPort,
    server,
    dbFile,
    httpUrl,
    node: get,
    inbox(id) {
      let b = inboxes.get(id);
      if (!b) inboxes.set(id, (b = new Inbox(get(id))));
      return b;
    },
    trigger(id, msg = {}) {
      (get(id) as unknown as { receive(m: Msg): void }).receive(msg);
    },
    press(id, msg) {
      get(id).send(msg);
    },
    byType: (type) => flow.filter((n) => n.type === type),
    byName(nm) {
      const n = flow.find((x) => x.name === nm);
      if (!n) throw new Error(`${name}: no node named ${JSON.stringify(nm)}`);
      return n;
    },
    async close() {
      httpServer.closeAllConnections();
      await new Promise<void>((r) => httpServer.close(() => r()));
      await helper.unload();
    },
  };
}

/** A real HTTP request; the body is parsed as JSON when it is JSON. */
export function request(url: string, method = 'GET', body?: unknown): Promise<{ status: number; body: any; headers: http.IncomingHttpHeaders }> { // eslint-disable-line @typescript-eslint/no-explicit-any
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const req = http.request(url, { method, headers: data ? { 'content-type': 'application/json', 'content-length': data.length } : {}, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let parsed: unknown = text;
        try {
          parsed = JSON.parse(text);
        } catch {
          /* not JSON */
        }
        resolve({ status: res.statusCode ?? 0, body: parsed, headers: res.headers });
      });
    });
    req.on('error', reject);
    if (data) req.write(data);
    req.end();
  });
}

/** Polls a condition without sleeping blindly: resolves as soon as it holds, fails after timeoutMs. */
export async function eventually<T>(fn: () => T | Promise<T>, timeoutMs = 5000, what = 'condition', everyMs = 20): Promise<NonNullable<T>> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v as NonNullable<T>;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) throw new Error(`${what} not reached within ${timeoutMs} ms${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** An MQTT message as a subscriber got it (the payload parsed as JSON when it is JSON). */
export interface Received {
  topic: string;
  payload: any; // eslint-disable-line @typescript-eslint/no-explicit-any
  retain: boolean;
}

/** A subscriber that remembers everything and lets a test await a matching message. */
export class Subscriber {
  readonly got: Received[] = [];
  private waiters: Array<{ pred: (m: Received) => boolean; resolve: (m: Received) => void }> = [];
  constructor(
    readonly client: mqtt.MqttClient,
    private readonly defaultTimeoutMs = 5000,
  ) {
    client.on('message', (topic, buf, packet) => {
      const text = buf.toString();
      let payload: unknown = text;
      try {
        payload = JSON.parse(text);
      } catch {
        /* plain text or empty */
      }
      const m = { topic, payload, retain: packet.retain };
      this.got.push(m);
      const i = this.waiters.findIndex((w) => w.pred(m));
      if (i >= 0) this.waiters.splice(i, 1)[0].resolve(m);
    });
  }

  wait(pred: (m: Received) => boolean, what: string, timeoutMs = this.defaultTimeoutMs): Promise<Received> {
    const have = this.got.find(pred);
    if (have) return Promise.resolve(have);
    return new Promise((resolve, reject) => {
      const w = {
        pred,
        resolve: (m: Received) => {
          clearTimeout(t);
          resolve(m);
        },
      };
      const t = setTimeout(() => {
        this.waiters = this.waiters.filter((x) => x !== w);
        reject(new Error(`no MQTT message: ${what} within ${timeoutMs} ms; got ${JSON.stringify(this.got.map((g) => g.topic)).slice(0, 800)}`));
      }, timeoutMs);
      this.waiters.push(w);
    });
  }
}

/** A subscriber on 127.0.0.1:port (MQTT 3.1.1, QoS 1); `wait` gives up after defaultTimeoutMs unless told. */
export async function connectSubscriber(port: number, topics: string[], defaultTimeoutMs?: number): Promise<Subscriber> {
  const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { protocolVersion: 4, reconnectPeriod: 0, clean: true });
  const s = new Subscriber(client, defaultTimeoutMs);
  await client.subscribeAsync(topics, { qos: 1 });
  return s;
}

/** A real MQTT broker (aedes, in-process on 127.0.0.1, port 0) and the subscribers a test opened on it. */
export class LocalBroker {
  private readonly clients: mqtt.MqttClient[] = [];
  private constructor(
    private readonly broker: { handle: (s: net.Socket) => void; close(cb?: () => void): void },
    private readonly server: net.Server,
    readonly port: number,
  ) {}

  static async start(): Promise<LocalBroker> {
    // aedes 1.x is an ES module; resolve it the CommonJS way (honours NODE_PATH), then import the file.
    const { Aedes } = (await import(pathToFileURL(require.resolve('aedes')).href)) as typeof import('aedes', { with: { 'resolution-mode': 'import' } });
    const broker = (await Aedes.createBroker()) as unknown as { handle: (s: net.Socket) => void; close(cb?: () => void): void };
    const server = net.createServer((s) => broker.handle(s));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    return new LocalBroker(broker, server, (server.address() as net.AddressInfo).port);
  }

  /** A subscriber ended by close(). */
  async subscribe(topics: string[], defaultTimeoutMs?: number): Promise<Subscriber> {
    const s = await connectSubscriber(this.port, topics, defaultTimeoutMs);
    this.clients.push(s.client);
    return s;
  }

  async close(): Promise<void> {
    await Promise.all(this.clients.map((c) => c.endAsync()));
    this.server.close();
    await new Promise<void>((r) => this.broker.close(() => r()));
  }
}
