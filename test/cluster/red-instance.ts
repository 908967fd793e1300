/**
 * One Node-RED 4 runtime of a cluster, as a child process (test/cluster/processes.spec.ts and
 * bench/cluster.ts fork it). Its flow: a core mqtt-broker config node, a ykc-server in the cluster,
 * a ykc-tariff whose three outputs are reported to the parent over IPC, and a ykc-in "whole
 * cluster" whose session events are counted per holding instance.
 *
 *   node red-instance.js --instance A --ykc-port 8768 --broker-port 1883 [--mqtt-version 5] [--scope cluster|local]
 *
 * IPC: { cmd: 'piles' } → the cluster directory; { cmd: 'command', pileNo, modelCode } → the
 * tariff node's output (1 accepted, 2 refused, 3 error) and msg; { cmd: 'events' } → counts;
 * { cmd: 'metrics' } → gateway and cluster counters; { cmd: 'latency', piles, count } → per-command
 * times (ms, sequential, through the tariff node); { cmd: 'close' } → stops and exits.
 */
import * as fs from 'fs';
import * as http from 'http';
import * as os from 'os';
import * as path from 'path';
import { nodesDir, serverNode, stopAndExit } from '../support/red-child';
import { Tariff } from '../../src/billing';

const arg = (name: string, dflt: string): string => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : dflt;
};

const NODES = ['ykc-server', 'ykc-in', 'ykc-tariff'];

export const MODEL = {
  modelCode: '0100', sharpElecPrice: '1.2', sharpServicePrice: '0.8', peakElecPrice: '1.0', peakServicePrice: '0.8',
  flatElecPrice: '0.7', flatServicePrice: '0.8', valleyElecPrice: '0.3', valleyServicePrice: '0.8', lossRatio: '0', slots: '1'.repeat(48),
};

function flow(instance: string, ykcPort: number, brokerPort: number, mqttVersion: string, scope: string): unknown[] {
  const out = (i: number) => ({ id: `o${i}`, type: 'function', z: 'tab', outputs: 0, wires: [], func: `global.get('report')(${i}, msg);\nreturn null;` });
  return [
    { id: 'tab', type: 'tab', label: 'cluster' },
    { id: 'mb', type: 'mqtt-broker', name: 'broker', broker: '127.0.0.1', port: String(brokerPort), clientid: '', autoConnect: true, usetls: false, protocolVersion: mqttVersion, keepalive: '60', cleansession: true },
    { id: 'srv', type: 'ykc-server', host: '127.0.0.1', port: String(ykcPort), persist: false, broker: 'mb', cluster: 'ykc', instance, requestTimeout: '10',
      tariff: JSON.stringify(new Tariff({ modelCode: '0001', elec: [100000, 90000, 80000, 70000], service: [1000, 2000, 3000, 4000], slots: new Array(48).fill(1) }).toBody()) },
    { id: 't1', type: 'ykc-tariff', z: 'tab', server: 'srv', pile: '', pileType: 'str', ...MODEL, wires: [['o0'], ['o1'], ['o2']] },
    out(0),
    out(1),
    out(2),
    { id: 'in1', type: 'ykc-in', z: 'tab', server: 'srv', scope, groups: ['session'], wires: [['count']] },
    { id: 'count', type: 'function', z: 'tab', outputs: 0, wires: [], func: "global.get('event')(msg);\nreturn null;" },
  ];
}

interface Reply {
  output: number;
  payload: unknown;
  ykc: Record<string, unknown>;
}

async function main(): Promise<void> {
  const instance = arg('instance', 'A');
  const ykcPort = Number(arg('ykc-port', '8768'));
  const brokerPort = Number(arg('broker-port', '1883'));
  const mqttVersion = arg('mqtt-version', '5');
  const scope = arg('scope', 'cluster');
  const userDir = fs.mkdtempSync(path.join(os.tmpdir(), `ykc-cluster-${instance}-`));
  fs.writeFileSync(path.join(userDir, 'flows.json'), JSON.stringify(flow(instance, ykcPort, brokerPort, mqttVersion, scope)));
  const waiting = new Map<string, (r: Reply) => void>();
  const events: Record<string, number> = {};
  let cid = 0;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const RED = require('node-red');
  const server = http.createServer();
  RED.init(server, {
    userDir,
    flowFile: 'flows.json',
    nodesDir: [nodesDir(userDir, NODES)],
    httpAdminRoot: false,
    httpNodeRoot: false,
    disableEditor: true,
    credentialSecret: false,
    functionGlobalContext: {
      report: (output: number, msg: { _cid?: string; payload: unknown; ykc: Record<string, unknown> }) => {
        const w = msg._cid ? waiting.get(msg._cid) : undefined;
        if (!w) return;
        waiting.delete(msg._cid!);
        w({ output, payload: msg.payload, ykc: msg.ykc });
      },
      event: (msg: { topic: string; ykc: { instance?: string } }) => {
        const k = `${msg.topic.split('/').pop()}@${msg.ykc.instance ?? '?'}`;
        events[k] = (events[k] ?? 0) + 1;
      },
    },
    logging: { console: { level: 'warn', metrics: false, audit: false } },
    editorTheme: { projects: { enabled: false } },
  });
  await RED.start();
  type Srv = { ready?: Promise<void>; cluster: import('../../src/cluster').YkcCluster | null; gateway: import('../../src/gateway').YkcServer | null };
  const srv = await serverNode<Srv>(RED, 'srv');
  for (let t = 0; t < 400 && !srv.cluster?.connected(); t++) await new Promise((r) => setTimeout(r, 25));
  const s = srv;
  const command = (pileNo: string, modelCode?: string) =>
    new Promise<Reply>((resolve) => {
      const id = `c${++cid}`;
      waiting.set(id, resolve);
      RED.nodes.getNode('t1').receive({ _cid: id, payload: { pileNo, ...(modelCode ? { modelCode } : {}) } });
    });
  const handlers: Record<string, (m: Record<string, unknown>) => Promise<unknown> | unknown> = {
    piles: () => ({ piles: s.cluster?.piles() ?? [], instances: s.cluster?.liveInstances().map((i) => i.instance) ?? [] }),
    command: (m) => command(String(m.pileNo), m.modelCode as string | undefined),
    latency: async (m) => {
      const list = m.piles as string[];
      const times: number[] = [];
      let failures = 0;
      for (let i = 0; i < Number(m.count); i++) {
        const t0 = performance.now();
        const r = await command(list[i % list.length]);
        times.push(performance.now() - t0);
        if (r.output !== 0) failures++;
      }
      return { times, failures };
    },
    events: () => ({ events }),
    metrics: () => ({ cluster: s.cluster?.counters, gateway: s.gateway?.metrics().counters, online: s.gateway?.onlineCount() }),
    close: stopAndExit(RED, server, userDir),
  };
  process.on('message', async (m: { cmd: string; id: number }) => {
    const h = handlers[m.cmd];
    if (!h) return;
    const out = (await h(m as unknown as Record<string, unknown>)) ?? {};
    process.send?.({ ...(out as object), id: m.id });
  });
  // The parent kills us with SIGKILL in the failover test: the user dir is then removed by the parent.
  process.send?.({ ready: true, instance, userDir });
}

if (require.main === module) {
  main().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
