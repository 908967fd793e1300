/**
 * What the `ykc-server` config node offers the nodes that use it. Command, in, billing, confirm
 * and pile nodes import this type only, never the config node's module.
 */
import type { Node, NodeMessage } from 'node-red';
import type { FrameEvent, YkcServer } from '../../src/gateway';
import type { RemoteEvent, YkcCluster } from '../../src/cluster';
import type { GatewayEvents } from './event-fan';

export interface YkcServerNode extends Node {
  /** The gateway; null when the node could not start (bad config, port busy). */
  gateway: YkcServer | null;
  /**
   * The gateway's events for the nodes that use it: subscribe here, not on `gateway` (one listener
   * per event on the gateway however many nodes; `on` returns the unsubscribe). Null with `gateway`.
   */
  events: GatewayEvents | null;
  /** Resolves once listening (it retries a busy port by itself); rejects for a configuration that cannot work, or when closed first. */
  ready: Promise<void>;
  /** One registered node per tab: the runtime routes this server's errors to the Catch nodes there, once per tab. */
  users: Record<string, Node>;
  /**
   * Registers a node (status fan-out, and error routing to Catch nodes on its tab).
   * `status: false` keeps the node's own status (command nodes show their last result instead
   * of the server's pile count).
   */
  register(node: Node, opts?: { status?: boolean }): void;
  deregister(node: Node, done: () => void): void;
  /** Bound TCP port (useful with port 0 in tests). */
  port(): number | null;
  /** The cluster this gateway belongs to (docs/cluster.md); null without a broker or before it joined. */
  cluster: YkcCluster | null;
  /** ykc-in "whole cluster": receive (on) or stop receiving (off) the events of piles on other instances. */
  clusterEvents(h: (e: RemoteEvent) => void, on: boolean): void;
  /** Follow one pile held by another instance (its frames, records, online, offline) without the rest of the cluster's events. */
  clusterWatch(pileNo: string, h: (e: RemoteEvent) => void, on: boolean): void;
}

/** The msg of a frame event (docs/architecture.md §2). */
export function frameMsg(ev: FrameEvent, includeRaw = false): NodeMessage & { ykc: Record<string, unknown> } {
  const f = ev.frame;
  const body = f.body;
  const pileNo = ev.pileNo ?? '';
  const ykc: Record<string, unknown> = {
    pileNo,
    gunNo: typeof body.gunNo === 'number' ? body.gunNo : undefined,
    type: f.type,
    name: f.name,
    seq: f.seq,
    version: ev.version,
    receivedAt: ev.receivedAt,
    sessionId: ev.sessionId,
    remote: ev.remote,
    loggedIn: ev.loggedIn,
  };
  if (ykc.gunNo === undefined) delete ykc.gunNo;
  // Kept beside the payload so it survives a database node replacing msg.payload (ykc-confirm reads it).
  if (typeof body.tradeNo === 'string') ykc.tradeNo = body.tradeNo;
  if (includeRaw && ev.raw) ykc.raw = ev.raw;
  return { topic: `ykc/${pileNo}/${f.name}`, payload: body, ykc };
}
