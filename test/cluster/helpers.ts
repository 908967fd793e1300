/**
 * An in-process aedes broker and gateway instances joined into one cluster over it, for the
 * cluster specs (real TCP for the broker and for the piles).
 */
import * as net from 'net';
import { pathToFileURL } from 'url';
import mqtt from 'mqtt';
import { GatewayOptions, YkcServer } from '../../src/gateway';
import { connectMqtt, MqttJsClient, YkcCluster } from '../../src/cluster';
import { Tariff } from '../../src/billing';

export interface Broker {
  port: number;
  url: string;
  /** Stops and starts again empty on the same port (no retained messages survive, as Mosquitto without persistence). */
  restart(): Promise<void>;
  close(): Promise<void>;
}

export async function startBroker(): Promise<Broker> {
  // aedes 1.x is an ES module; resolve it the CommonJS way (honours NODE_PATH), then import the file.
  const { Aedes } = (await import(pathToFileURL(require.resolve('aedes')).href)) as typeof import('aedes', { with: { 'resolution-mode': 'import' } });
  type AedesLike = { handle(s: net.Socket): void; close(cb: () => void): void };
  const sockets = new Set<net.Socket>();
  const open = async (port: number) => {
    const broker = (await Aedes.createBroker()) as unknown as AedesLike;
    const server = net.createServer((s) => {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      broker.handle(s);
    });
    await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
    return { broker, server };
  };
  let cur = await open(0);
  const port = (cur.server.address() as net.AddressInfo).port;
  const shut = async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((r) => cur.server.close(() => r()));
    await new Promise<void>((r) => cur.broker.close(() => r()));
  };
  return {
    port,
    url: `mqtt://127.0.0.1:${port}`,
    async restart() {
      await shut();
      cur = await open(port);
    },
    close: shut,
  };
}

export interface Instance {
  id: string;
  server: YkcServer;
  cluster: YkcCluster;
  client: MqttJsClient;
  port: number;
  /** Ends like a killed process: the broker's connection drops without DISCONNECT (the will fires). */
  crash(): Promise<void>;
  stop(): Promise<void>;
}

export async function startInstance(
  broker: Pick<Broker, 'url'>,
  id: string,
  opts: Partial<GatewayOptions> = {},
  clusterOpts: { transitGraceMs?: number } = {},
  mqttOptions: Record<string, unknown> = {},
): Promise<Instance> {
  const server = new YkcServer({ heartbeatPeriodMs: 2000, missedHeartbeats: 3, requestTimeoutMs: 3000, ...opts });
  const addr = await server.listen(0, '127.0.0.1');
  const { client, transport } = connectMqtt({ url: broker.url, options: mqttOptions, clientId: `ykc-${id}`, will: YkcCluster.willFor('ykc', id), keepaliveSeconds: 5 });
  const cluster = new YkcCluster(server, transport, { instance: id, ...clusterOpts });
  cluster.start();
  await waitFor(() => cluster.connected() && cluster.liveInstances().some((i) => i.instance === id), `instance ${id} connected`);
  let ended = false;
  return {
    id, server, cluster, client, port: addr.port,
    async crash() {
      ended = true;
      (client as unknown as mqtt.MqttClient).end(true);
      await server.close();
    },
    async stop() {
      if (ended) return;
      ended = true;
      await server.close();
      await cluster.stop();
    },
  };
}

/** Polls a condition (the machine is loaded: generous bounds, no fixed sleeps in assertions). */
export async function waitFor(pred: () => boolean, what: string, timeoutMs = 10_000, everyMs = 20): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

export function sampleTariff(code = '0200'): Tariff {
  return new Tariff({ modelCode: code, elec: [100000, 90000, 80000, 70000], service: [1000, 2000, 3000, 4000], slots: new Array(48).fill(1) });
}

/** A plain MQTT client that records what it receives. */
export async function rawClient(broker: Broker, topics: string[]): Promise<{ client: mqtt.MqttClient; got: Array<{ topic: string; payload: string; retain: boolean }> }> {
  const client = await mqtt.connectAsync(broker.url, { clientId: `raw-${Math.random().toString(16).slice(2)}` });
  const got: Array<{ topic: string; payload: string; retain: boolean }> = [];
  client.on('message', (topic, buf, packet) => got.push({ topic, payload: buf.toString(), retain: !!packet.retain }));
  if (topics.length) await client.subscribeAsync(topics, { qos: 1 });
  return { client, got };
}

/**
 * A TCP load balancer for piles: new connections go to `target`; `blackhole()` freezes the
 * existing ones (no data either way, no FIN), as when a machine vanishes from the network.
 */
export class TinyBalancer {
  target = 0;
  port = 0;
  private readonly server: net.Server;
  private readonly pairs = new Set<[net.Socket, net.Socket]>();

  constructor() {
    this.server = net.createServer((down) => {
      const up = net.connect({ host: '127.0.0.1', port: this.target });
      const pair: [net.Socket, net.Socket] = [down, up];
      this.pairs.add(pair);
      down.pipe(up);
      up.pipe(down);
      const end = () => {
        this.pairs.delete(pair);
        down.destroy();
        up.destroy();
      };
      down.on('error', end).on('close', end);
      up.on('error', end).on('close', end);
    });
  }

  async listen(): Promise<number> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.port = (this.server.address() as net.AddressInfo).port;
    return this.port;
  }

  blackhole(): void {
    for (const [down, up] of this.pairs) {
      down.unpipe(up);
      up.unpipe(down);
      down.pause();
      up.pause();
      // The gateway side must not see a close either: keep the sockets, drop them from the list.
      down.removeAllListeners('close');
      up.removeAllListeners('close');
    }
    this.frozen.push(...this.pairs);
    this.pairs.clear();
  }

  private readonly frozen: Array<[net.Socket, net.Socket]> = [];

  async close(): Promise<void> {
    for (const [a, b] of [...this.pairs, ...this.frozen]) {
      a.destroy();
      b.destroy();
    }
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}
