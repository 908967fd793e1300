/**
 * The few MQTT operations a cluster needs, behind a small interface, and one implementation over an
 * mqtt.js client. Why the cluster opens its own client instead of sharing the connection of
 * Node-RED's `mqtt-broker` config node (docs/cluster.md, "Broker connection"): that node offers
 * register/subscribe/publish, but its one will message belongs to the user's dialog (the cluster
 * needs its own, retained, to clear its liveness when it dies), its publish() drops messages
 * silently while disconnected (a command must fail at once with a clear error), and it connects
 * only while an mqtt node uses it. The cluster therefore reuses that node's *settings* (URL,
 * credentials, TLS, protocol version) with its own client id, will and keep-alive.
 */
import { createRequire } from 'module';
import * as path from 'path';
import { YkcError } from '../protocol';

export interface ClusterMessage {
  topic: string;
  payload: Buffer;
  retain: boolean;
  /** MQTT v5 properties, when the broker speaks v5. */
  responseTopic?: string;
  correlationData?: Buffer;
}

export interface PublishOptions {
  qos?: 0 | 1;
  retain?: boolean;
  /** v5 only (ignored on v3.1.1). */
  responseTopic?: string;
  correlationData?: Buffer;
  /** v5 message expiry: the broker drops the message if not delivered within this time. */
  expirySeconds?: number;
}

export interface ClusterTransport {
  /** True when the session speaks MQTT v5 (response topic, correlation data, expiry). */
  readonly v5: boolean;
  connected(): boolean;
  /** Resolves once the broker accepted it (QoS 1) or it was written (QoS 0); rejects when not connected. */
  publish(topic: string, payload: string | Buffer, opts?: PublishOptions): Promise<void>;
  subscribe(topics: string[], qos?: 0 | 1): Promise<void>;
  unsubscribe(topics: string[]): Promise<void>;
  onMessage(h: (m: ClusterMessage) => void): void;
  /** Every (re)connection: the cluster republishes its liveness and claims. */
  onConnect(h: () => void): void;
  onDisconnect(h: () => void): void;
  /** Ends the session cleanly (no will). */
  end(): Promise<void>;
}

/** The subset of an mqtt.js MqttClient used here (v5.x API). */
export interface MqttJsClient {
  connected: boolean;
  options: { protocolVersion?: number };
  publish(topic: string, payload: string | Buffer, opts: Record<string, unknown>, cb: (err?: Error) => void): unknown;
  subscribe(topics: string[], opts: Record<string, unknown>, cb: (err: Error | null) => void): unknown;
  unsubscribe(topics: string[], cb: (err?: Error) => void): unknown;
  on(event: 'message', h: (topic: string, payload: Buffer, packet: { retain?: boolean; properties?: { responseTopic?: string; correlationData?: Buffer } }) => void): unknown;
  on(event: 'connect' | 'close' | 'offline' | 'error', h: (...a: unknown[]) => void): unknown;
  end(force: boolean, opts: Record<string, unknown>, cb: () => void): unknown;
}

/** Adapts an mqtt.js client (the cluster's own, or any other already connected one). */
export function mqttJsTransport(client: MqttJsClient): ClusterTransport {
  const notConnected = () => new YkcError('YKC_OFFLINE', 'the cluster is not connected to its MQTT broker', { broker: false });
  return {
    get v5() {
      return client.options.protocolVersion === 5;
    },
    connected: () => client.connected,
    publish(topic, payload, opts = {}) {
      if (!client.connected) return Promise.reject(notConnected());
      const properties: Record<string, unknown> = {};
      if (client.options.protocolVersion === 5) {
        if (opts.responseTopic) properties.responseTopic = opts.responseTopic;
        if (opts.correlationData) properties.correlationData = opts.correlationData;
        if (opts.expirySeconds) properties.messageExpiryInterval = Math.max(1, Math.ceil(opts.expirySeconds));
      }
      return new Promise((resolve, reject) => {
        client.publish(topic, payload, { qos: opts.qos ?? 0, retain: opts.retain ?? false, ...(Object.keys(properties).length ? { properties } : {}) }, (err) =>
          err ? reject(err) : resolve(),
        );
      });
    },
    subscribe(topics, qos = 1) {
      return new Promise((resolve, reject) => client.subscribe(topics, { qos }, (err) => (err ? reject(err) : resolve())));
    },
    unsubscribe(topics) {
      return new Promise((resolve, reject) => client.unsubscribe(topics, (err) => (err ? reject(err) : resolve())));
    },
    onMessage(h) {
      client.on('message', (topic, payload, packet) =>
        h({ topic, payload, retain: !!packet.retain, responseTopic: packet.properties?.responseTopic, correlationData: packet.properties?.correlationData }),
      );
    },
    onConnect(h) {
      client.on('connect', () => h());
    },
    onDisconnect(h) {
      client.on('close', () => h());
    },
    end() {
      return new Promise((resolve) => client.end(false, {}, () => resolve()));
    },
  };
}

interface MqttModule {
  connect(url: string, opts: Record<string, unknown>): MqttJsClient;
}

/**
 * The mqtt package: ours when installed beside us (tests, or added by the user), else the one
 * Node-RED itself ships for its mqtt nodes (resolved from the running Node-RED, so this package
 * adds no runtime dependency).
 */
export function loadMqtt(): MqttModule {
  const tries: Array<() => unknown> = [() => require('mqtt')];
  const main = require.main?.filename;
  if (main) {
    const req = createRequire(main);
    tries.push(() => req('mqtt'));
    tries.push(() => createRequire(req.resolve('@node-red/nodes/package.json'))('mqtt'));
    tries.push(() => createRequire(path.join(path.dirname(req.resolve('node-red/package.json')), 'package.json'))('mqtt'));
  }
  for (const t of tries) {
    try {
      const m = t() as MqttModule & { default?: MqttModule };
      if (typeof m.connect === 'function') return m;
      if (m.default && typeof m.default.connect === 'function') return m.default;
    } catch {
      /* next place */
    }
  }
  throw new YkcError('YKC_INPUT', 'the mqtt package was found neither beside node-red-ykc nor in the running Node-RED: npm install mqtt');
}

export interface ConnectOptions {
  url: string;
  /** mqtt.js options (username, password, TLS, protocolVersion…), e.g. an mqtt-broker node's. */
  options?: Record<string, unknown>;
  clientId: string;
  will: { topic: string; payload: string; retain: boolean; qos: 0 | 1 };
  /** Seconds; the broker publishes the will after about 1.5 × this without traffic. */
  keepaliveSeconds: number;
}

/** Opens the cluster's own mqtt.js session (clean, its own will), reconnecting by itself every second. */
export function connectMqtt(o: ConnectOptions): { client: MqttJsClient; transport: ClusterTransport } {
  const mqtt = loadMqtt();
  const base = { ...(o.options ?? {}) };
  // Settings of the shared node that must not leak into our session.
  for (const k of ['will', 'clientId', 'clean', 'keepalive', 'properties', 'reconnectPeriod', 'resubscribe']) delete base[k];
  const client = mqtt.connect(o.url, {
    ...base,
    clientId: o.clientId,
    clean: true,
    keepalive: o.keepaliveSeconds,
    reconnectPeriod: 1000,
    // The cluster subscribes again itself on every connection (before it announces itself).
    resubscribe: false,
    will: o.will,
  });
  // Errors show up as reconnects; without a listener an 'error' event would throw.
  client.on('error', () => {});
  // A command and its reply are small writes right after a PUBACK: with Nagle's algorithm each waits
  // for the peer's delayed ACK (~40 ms). The cluster's messages are few and latency-bound.
  client.on('connect', () => (client as unknown as { stream?: { setNoDelay?: (on: boolean) => void } }).stream?.setNoDelay?.(true));
  return { client, transport: mqttJsTransport(client) };
}
