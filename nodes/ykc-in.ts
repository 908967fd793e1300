/**
 * ykc-in: frames and session events from the piles of one ykc-server, as messages
 * (docs/architecture.md §2), filtered by pile and by frame group or type.
 */
import type { Node, NodeAPI, NodeDef, NodeMessage } from 'node-red';
import type { RemoteEvent } from '../src/cluster';
import type { FrameEvent, GunStateChange, LoginEvent, LoginRequestEvent, ProblemEvent, RecordEvent, ServerEvents, SessionEvent } from '../src/gateway';
import { DEFAULT_GROUPS, GROUPS, parseTypes } from './shared/in-filters';
import { frameMsg, YkcServerNode } from './shared/server-node';

interface YkcInDef extends NodeDef {
  server: string;
  piles?: string;
  groups?: string[] | string;
  types?: string;
  raw?: boolean;
  metricsInterval?: string | number;
  /** "local" (default): this instance's piles; "cluster": every instance's (docs/cluster.md). */
  scope?: 'local' | 'cluster';
}

export = function (RED: NodeAPI): void {
  function YkcInNode(this: Node, config: YkcInDef) {
    RED.nodes.createNode(this, config);
    const node = this;
    const server = RED.nodes.getNode(config.server) as YkcServerNode | null;
    if (!server) {
      node.status({ fill: 'red', shape: 'ring', text: RED._('ykc-in.status.noServer') });
      node.error(RED._('ykc-in.errors.noServer'));
      return;
    }
    const piles = new Set(String(config.piles ?? '').split(/[\s,;]+/).filter(Boolean));
    const groups = new Set(Array.isArray(config.groups) ? config.groups : typeof config.groups === 'string' && config.groups ? config.groups.split(',') : DEFAULT_GROUPS);
    const { types: extraTypes, unknown } = parseTypes(config.types);
    if (unknown.length) node.warn(RED._('ykc-in.errors.unknownTypes', { types: unknown.join(', ') }));
    const wanted = new Set<number>(extraTypes);
    for (const [g, ts] of Object.entries(GROUPS)) if (groups.has(g)) ts.forEach((t) => wanted.add(t));
    const includeRaw = !!config.raw;
    const pileOk = (p: string | null | undefined) => piles.size === 0 || (!!p && piles.has(p));

    const wholeCluster = config.scope === 'cluster';
    /** The instance whose event is being relayed (set only while onRemote runs a handler). */
    let via: string | null = null;
    /** In cluster mode every msg says which instance holds its pile. */
    const send = (msg: NodeMessage) => {
      const y = (msg as { ykc?: Record<string, unknown> }).ykc;
      if (wholeCluster && y) y.instance = via ?? server.cluster?.id ?? null;
      node.send(msg);
    };

    const onFrame = (ev: FrameEvent) => {
      if (ev.frame.type === 0x01 || !wanted.has(ev.frame.type) || !pileOk(ev.pileNo)) return;
      send(frameMsg(ev, includeRaw));
    };
    const onSent = (ev: FrameEvent) => {
      if (!pileOk(ev.pileNo)) return;
      const m = frameMsg(ev, includeRaw);
      m.topic = `ykc/${ev.pileNo}/sent/${ev.frame.name}`;
      send(m);
    };
    const onRecord = (ev: RecordEvent) => {
      if (!pileOk(ev.pileNo)) return;
      const m = frameMsg(ev, includeRaw);
      m.ykc.record = { arrival: ev.arrival, held: ev.held, id: ev.id };
      send(m);
    };
    // Copies the gateway did not hand over as records: shown, under their own topic, never to be stored.
    const notHandedOver = (name: 'recordDuplicate' | 'recordForeign') => (ev: RecordEvent) => {
      if (!pileOk(ev.pileNo)) return;
      const m = frameMsg(ev, includeRaw);
      m.topic = `ykc/${ev.pileNo}/${name}`;
      m.ykc.record = { arrival: ev.arrival, held: ev.held, id: ev.id, ...(ev.foreign ? { foreign: true } : {}) };
      send(m);
    };
    const onDuplicate = notHandedOver('recordDuplicate');
    const onForeign = notHandedOver('recordForeign');
    const sessionMsg = (name: string, ev: SessionEvent, payload: Record<string, unknown>) => {
      if (!pileOk(ev.pileNo)) return;
      send({ topic: `ykc/${ev.pileNo ?? ''}/${name}`, payload, ykc: { pileNo: ev.pileNo, name, sessionId: ev.sessionId, remote: ev.remote, receivedAt: ev.at } } as NodeMessage);
    };
    const onOnline = (ev: SessionEvent & { version: string | null }) => sessionMsg('online', ev, { pileNo: ev.pileNo, remote: ev.remote, version: ev.version, at: ev.at });
    const onOffline = (ev: SessionEvent) => sessionMsg('offline', ev, { pileNo: ev.pileNo, remote: ev.remote, reason: ev.reason, at: ev.at });
    const onLogin = (ev: LoginEvent) =>
      sessionMsg('login', ev, { ...ev.body, accepted: ev.accepted, ...(ev.reason ? { reason: ev.reason } : {}), ...(ev.replaced ? { replaced: true } : {}) });
    const onLoginRequest = (ev: LoginRequestEvent) =>
      sessionMsg('loginRequest', { sessionId: ev.sessionId, pileNo: ev.pileNo, remote: ev.remote, at: Date.now() }, { ...ev.body, sessionId: ev.sessionId, remote: ev.remote });
    const onGunState = (c: GunStateChange) => {
      if (!pileOk(c.pileNo)) return;
      send({ topic: `ykc/${c.pileNo}/gunState`, payload: c, ykc: { pileNo: c.pileNo, gunNo: c.gunNo, name: 'gunState' } } as NodeMessage);
    };
    const onProblem = (p: ProblemEvent) => {
      if (!pileOk(p.pileNo ?? null) && piles.size) return;
      send({ topic: `ykc/${p.pileNo ?? ''}/problem`, payload: p, ykc: { pileNo: p.pileNo, name: 'problem' } } as NodeMessage);
    };

    /** Another instance's event, as the same msg a local one gives (plus ykc.instance). */
    const onRemote = (e: RemoteEvent) => {
      const ev = e.event as unknown as FrameEvent & RecordEvent & SessionEvent & { version: string | null };
      const relay = (fn: () => void) => {
        via = e.instance;
        try {
          fn();
        } finally {
          via = null;
        }
      };
      if (e.kind === 'frame' && ev.frame) relay(() => onFrame(ev));
      else if (e.kind === 'record' && ev.frame && groups.has('records')) relay(() => onRecord(ev));
      else if (e.kind === 'online' && groups.has('session')) relay(() => onOnline(ev));
      else if (e.kind === 'offline' && groups.has('session')) relay(() => onOffline(ev));
      else if (e.kind === 'gunState' && groups.has('gunState')) relay(() => onGunState(e.event as unknown as GunStateChange));
    };

    let metricsTimer: NodeJS.Timeout | null = null;
    /** Unsubscribes from the server's events (one gateway listener per event however many nodes). */
    const unsubscribe: Array<() => void> = [];
    const attach = () => {
      const gw = server.gateway;
      const ev = server.events;
      if (!gw || !ev) return;
      const on = <K extends keyof ServerEvents>(event: K, fn: (...args: ServerEvents[K]) => void) => unsubscribe.push(ev.on(event, fn));
      on('frame', onFrame);
      if (groups.has('records')) on('record', onRecord);
      if (groups.has('duplicates')) {
        on('recordDuplicate', onDuplicate);
        on('recordForeign', onForeign);
      }
      if (groups.has('session')) {
        on('online', onOnline);
        on('offline', onOffline);
        on('login', onLogin);
        on('loginRequest', onLoginRequest);
      }
      if (groups.has('gunState')) on('gunState', onGunState);
      if (groups.has('problems')) on('problem', onProblem);
      if (groups.has('sent')) on('sent', onSent);
      if (includeRaw) gw.includeRaw = true;
      if (wholeCluster) server.clusterEvents(onRemote, true);
      if (groups.has('metrics')) {
        metricsTimer = setInterval(() => {
          const g = server.gateway;
          if (g) send({ topic: 'ykc/metrics', payload: g.metrics() } as NodeMessage);
        }, Math.max(1, Number(config.metricsInterval) || 10) * 1000);
      }
    };
    attach();
    server.register(node);

    node.on('close', (_removed: boolean, done: () => void) => {
      if (metricsTimer) clearInterval(metricsTimer);
      for (const off of unsubscribe.splice(0)) off();
      if (wholeCluster) server.clusterEvents(onRemote, false);
      server.deregister(node, done);
    });
  }
  RED.nodes.registerType('ykc-in', YkcInNode);
};
