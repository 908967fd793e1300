/**
 * A ykc-server joins a cluster (docs/cluster.md) when its `broker` property names a Node-RED core
 * `mqtt-broker` config node: the cluster connects with that node's settings (URL, credentials, TLS,
 * MQTT version) but its own session, so it can carry its own will (src/cluster/transport.ts says why).
 * Without a broker nothing here runs.
 */
import type { NodeAPI } from 'node-red';
import { connectMqtt, RemoteEvent, YkcCluster } from '../../src/cluster';
import type { YkcServer } from '../../src/gateway';
import { YkcError } from '../../src/protocol';
import type { YkcServerNode } from './server-node';

export interface ClusterDef {
  /** Id of an `mqtt-broker` config node; empty = no cluster. */
  broker?: string;
  /** Topic prefix shared by the instances (default "ykc"). */
  cluster?: string;
  /** This instance's id (default host name + gateway port). */
  instance?: string;
}

/** Seconds of broker silence before the will clears a dead instance (about 1.5 × this). */
const KEEPALIVE_S = 10;

/** What the core mqtt-broker config node exposes that we read (its own fields, see 10-mqtt.js). */
interface BrokerConfigNode {
  brokerurl?: string;
  options?: Record<string, unknown>;
}

export function clusterGlue(
  RED: NodeAPI,
  node: YkcServerNode,
  config: ClusterDef,
  report: (e: Error) => void,
  /** The directory or the broker connection changed (the server node refreshes its status). */
  changed: () => void = () => {},
): { start(gw: YkcServer): void; stop(): Promise<void> } {
  const listeners = new Set<(e: RemoteEvent) => void>();
  const pileListeners = new Map<string, Set<(e: RemoteEvent) => void>>();
  let cluster: YkcCluster | null = null;
  let stopped = false;
  node.cluster = null;
  node.clusterEvents = (h, on) => {
    if (on && !listeners.has(h)) {
      listeners.add(h);
      cluster?.wantEvents(true);
    } else if (!on && listeners.delete(h)) cluster?.wantEvents(false);
  };
  node.clusterWatch = (pileNo, h, on) => {
    let set = pileListeners.get(pileNo);
    if (on) {
      if (!set) pileListeners.set(pileNo, (set = new Set()));
      if (set.has(h)) return;
      set.add(h);
      cluster?.watchPile(pileNo, true);
    } else if (set?.delete(h)) {
      if (!set.size) pileListeners.delete(pileNo);
      cluster?.watchPile(pileNo, false);
    }
  };
  return {
    start(gw) {
      if (cluster || stopped) return;
      const brokerId = String(config.broker ?? '').trim();
      if (!brokerId || brokerId === '_ADD_') return;
      const b = RED.nodes.getNode(brokerId) as unknown as BrokerConfigNode | null;
      if (!b || typeof b.brokerurl !== 'string' || !b.brokerurl) {
        report(new YkcError('YKC_INPUT', RED._('ykc-server.errors.noBroker', { id: brokerId })));
        return;
      }
      try {
        const name = String(config.cluster ?? '').trim() || 'ykc';
        const id = String(config.instance ?? '').trim() || YkcCluster.defaultInstanceId(node.port());
        const { transport } = connectMqtt({
          url: b.brokerurl, options: b.options, clientId: `ykc-${name.replace(/\//g, '_')}-${id}`.slice(0, 128), will: YkcCluster.willFor(name, id), keepaliveSeconds: KEEPALIVE_S,
        });
        const c = new YkcCluster(gw, transport, { cluster: name, instance: id });
        for (let i = 0; i < listeners.size; i++) c.wantEvents(true);
        for (const [pileNo, set] of pileListeners) for (let i = 0; i < set.size; i++) c.watchPile(pileNo, true);
        c.on('event', (e) => {
          for (const h of listeners) h(e);
          const watchers = pileListeners.get(e.pileNo);
          if (watchers) for (const h of watchers) h(e);
        });
        c.on('problem', (p) => report(Object.assign(new Error(p.message), { code: p.code })));
        c.on('directory', changed);
        c.start();
        cluster = c;
        node.cluster = c;
        node.log(RED._('ykc-server.log.cluster', { cluster: name, instance: id, broker: b.brokerurl }));
      } catch (e) {
        report(e as Error);
      }
    },
    async stop() {
      stopped = true;
      const c = cluster;
      cluster = null;
      node.cluster = null;
      if (c) await c.stop().catch(() => {});
    },
  };
}
