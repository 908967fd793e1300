/**
 * ykc-server (config node): owns one YkcServer. Listens when deployed, fans its status out to
 * the nodes that use it, reports problems (rate-limited) so Catch nodes on their tabs see them,
 * and closes every socket on redeploy.
 */
import * as path from 'path';
import type { Node, NodeAPI, NodeDef } from 'node-red';
import { FileJournal, GatewayOptions, ProblemEvent, toPrometheus, YkcServer } from '../src/gateway';
import type { TariffBody } from '../src/billing';
import { YkcError } from '../src/protocol';
import { ProblemThrottle } from './shared/errors';
import { LISTEN_RETRY_MAX_MS, ListenFailure, ListenLoop } from './shared/listen-retry';
import { ClusterDef, clusterGlue } from './shared/cluster-glue';
import { YkcServerNode } from './shared/server-node';
import { GatewayEvents } from './shared/event-fan';
import { serverTariff, ServerTariffDef } from './shared/server-tariff';

interface YkcServerDef extends NodeDef, ClusterDef, ServerTariffDef {
  host?: string;
  port?: string | number;
  loginPolicy?: GatewayOptions['loginPolicy'];
  allowlist?: string;
  autoHeartbeat?: boolean;
  autoBillingModel?: boolean;
  autoTimeSync?: boolean;
  recordConfirm?: GatewayOptions['recordConfirm'];
  recordConfirmTimeout?: string | number;
  heartbeatPeriod?: string | number;
  missedHeartbeats?: string | number;
  loginTimeout?: string | number;
  requestTimeout?: string | number;
  maxConnections?: string | number;
  admitPerSecond?: string | number;
  takeover?: GatewayOptions['takeover'];
  acceptHiFirstCrc?: boolean;
  persist?: boolean;
  metrics?: boolean;
}

const num = (v: unknown, dflt: number): number => {
  const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN;
  return Number.isFinite(n) ? n : dflt;
};

function parseAllowlist(text: string | undefined): string[] {
  return String(text ?? '')
    .split(/[\s,;]+/)
    .map((s) => s.trim())
    .filter(Boolean);
}

export = function (RED: NodeAPI): void {
  /** Servers that publish Prometheus metrics at /ykc/metrics. */
  const metricsNodes = new Set<YkcServerNode>();

  function YkcServerConfig(this: YkcServerNode, config: YkcServerDef) {
    RED.nodes.createNode(this, config);
    const node = this;
    node.users = {};
    /** Every node using this server (status fan-out); `users` holds one per tab (error routing). */
    const members = new Map<string, Node>();
    node.gateway = null;
    node.events = null;
    // Per code and per pile: framing noise cannot hide a takeover, a store failure or a record problem.
    const throttle = new ProblemThrottle();
    /** Users that keep their own status (command nodes). */
    const ownStatus = new Set<string>();
    let listening = false;
    /** A configuration that can never listen (bad port, bad tariff): no retry. */
    let failed = false;
    /** The last failed listen while retrying: shown until the next try works. */
    let listenFailure: { address: string; cause: string; retryInMs: number } | null = null;

    const setStatus = () => {
      const n = node.gateway?.onlineCount() ?? 0;
      const status = failed
        ? { fill: 'red' as const, shape: 'ring' as const, text: RED._('ykc-server.status.badConfig') }
        : listenFailure
          ? { fill: 'red' as const, shape: 'ring' as const, text: RED._('ykc-server.status.cannotListen', { ...listenFailure, seconds: String(Math.round(listenFailure.retryInMs / 1000)) }) }
          : !listening
          ? { fill: 'grey' as const, shape: 'ring' as const, text: RED._('ykc-server.status.starting') }
          : n === 0
            ? { fill: 'yellow' as const, shape: 'ring' as const, text: RED._('ykc-server.status.listening', { port: String(node.port()) }) }
            : { fill: 'green' as const, shape: 'dot' as const, text: RED._('ykc-server.status.piles', { count: n }) };
      const c = node.cluster;
      if (c && listening && !failed) {
        status.text += c.connected()
          ? ` · ${RED._('ykc-server.status.cluster', { total: String(c.piles().length), instances: String(c.liveInstances().length) })}`
          : ` · ${RED._('ykc-server.status.clusterDown')}`;
      }
      for (const u of members.values()) if (!ownStatus.has(u.id)) u.status(status);
    };
    // Piles come and go in bursts (a reconnect storm): refresh the status at most 4 times a second.
    let statusTimer: NodeJS.Timeout | null = null;
    const scheduleStatus = () => {
      if (statusTimer) return;
      statusTimer = setTimeout(() => {
        statusTimer = null;
        setStatus();
      }, 250);
    };

    // The runtime hands an error of a config node to the Catch nodes of every node in `users`: with
    // eleven nodes on one tab a Catch node would get each error eleven times. One node per tab
    // (flow or subflow instance) routes it exactly once there.
    const tabOf = (n: Node) => (n as Node & { z?: string }).z ?? '';
    const pickUsers = () => {
      const users: Record<string, Node> = {};
      const seen = new Set<string>();
      for (const u of members.values()) {
        if (seen.has(tabOf(u))) continue;
        seen.add(tabOf(u));
        users[u.id] = u;
      }
      node.users = users;
    };
    node.register = (n: Node, opts?: { status?: boolean }) => {
      members.set(n.id, n);
      pickUsers();
      if (opts?.status === false) ownStatus.add(n.id);
      else setStatus();
    };
    node.deregister = (n: Node, done: () => void) => {
      members.delete(n.id);
      pickUsers();
      ownStatus.delete(n.id);
      done();
    };
    node.port = () => node.gateway?.address()?.port ?? null;

    /**
     * Reports through node.error (Catch nodes see it); the error is built only when the throttle
     * lets it through. `key` names the code (else the error's) and pile it is throttled under.
     */
    const report = (err: YkcError | Error | (() => Error), extra: Record<string, unknown> = {}, key?: { code: string; pileNo?: string | null; always?: boolean }) => {
      const code = key?.code ?? (typeof err === 'function' ? undefined : (err as { code?: string }).code) ?? 'YKC_INTERNAL';
      const held = throttle.admit(code, key?.pileNo, key?.always);
      if (held === null) return;
      const e = (typeof err === 'function' ? err() : err) as Error & { code?: string };
      const msg = { topic: `ykc/${extra.pileNo ?? ''}/problem`.replace('//', '/'), payload: { code: e.code, message: e.message, ...extra, suppressed: held } };
      node.error(e, msg);
    };

    /** The OS error code as the user's language says it (EADDRINUSE → "port in use"). */
    const listenCause = (code: string): string => {
      const text = RED._(`ykc-server.listenCause.${code}`, { defaultValue: '' } as unknown as Record<string, string>);
      return typeof text === 'string' && text !== '' && !text.endsWith(`listenCause.${code}`) ? text : code;
    };
    let listenLoop: ListenLoop | null = null;
    const cluster = clusterGlue(RED, node, config, (e) => report(e), () => scheduleStatus());

    let options: Partial<GatewayOptions>;
    let defaultTariff: TariffBody | null = null;
    try {
      const port = num(config.port, 8768);
      if (!Number.isInteger(port) || port < 0 || port > 65535) throw new YkcError('YKC_INPUT', RED._('ykc-server.errors.port', { port: String(config.port) }));
      try {
        defaultTariff = serverTariff(config);
      } catch (e) {
        throw new YkcError('YKC_TARIFF', RED._('ykc-server.errors.tariff', { message: (e as Error).message }));
      }
      options = {
        loginPolicy: config.loginPolicy ?? 'all',
        allowlist: parseAllowlist(config.allowlist),
        autoHeartbeat: config.autoHeartbeat !== false,
        autoBillingModel: config.autoBillingModel !== false,
        autoTimeSync: config.autoTimeSync !== false,
        recordConfirm: config.recordConfirm ?? 'after-store',
        recordConfirmTimeoutMs: num(config.recordConfirmTimeout, 30) * 1000,
        heartbeatPeriodMs: num(config.heartbeatPeriod, 10) * 1000,
        missedHeartbeats: num(config.missedHeartbeats, 3),
        loginTimeoutMs: num(config.loginTimeout, 60) * 1000,
        requestTimeoutMs: num(config.requestTimeout, 15) * 1000,
        maxConnections: num(config.maxConnections, 20000),
        admitPerSecond: num(config.admitPerSecond, 1000),
        takeover: config.takeover === 'refuse-while-alive' ? 'refuse-while-alive' : 'replace',
        acceptHiFirstCrc: config.acceptHiFirstCrc !== false,
      };
      const userDir = (RED.settings as unknown as { userDir?: string }).userDir;
      const journal = config.persist !== false && userDir ? new FileJournal(path.join(userDir, 'ykc', `records-${node.id.replace(/[^\w.-]/g, '_')}.jsonl`)) : undefined;
      // The models piles took (tariff in force) beside the record journal, in a file of their own.
      if (config.persist !== false && userDir) options.tariffHistoryFile = path.join(userDir, 'ykc', `tariffs-${node.id.replace(/[^\w.-]/g, '_')}.jsonl`);
      const gw = new YkcServer(options, journal);
      node.gateway = gw;
      node.events = new GatewayEvents(gw, (e) => report(e instanceof Error ? e : new Error(String(e))));
      if (defaultTariff) gw.setTariff(null, defaultTariff);
      node.events.on('online', scheduleStatus);
      node.events.on('offline', scheduleStatus);
      node.events.on('problem', (p: ProblemEvent) => {
        // Framing noise is expected on flaky links; logins and tariffs are worth an error.
        // "No tariff" (once per pile) says the fix in the user's language; so does a takeover (never throttled).
        const takeover = () => {
          const d = p.details as { pileNo?: string; refused?: boolean; remote?: string; previousRemote?: string; previousSilentMs?: number };
          return RED._(d.refused ? 'ykc-server.errors.takeoverRefused' : 'ykc-server.errors.takeoverReplaced', {
            // The new connection has not logged in yet: the pile number is in the details.
            pileNo: String(d.pileNo ?? p.pileNo ?? ''),
            remote: String(d.remote ?? p.remote ?? ''),
            previous: String(d.previousRemote ?? ''),
            seconds: String(Math.round((d.previousSilentMs ?? 0) / 1000)),
          });
        };
        const text = () =>
          p.details?.noTariff ? RED._('ykc-server.errors.noTariff', { pileNo: String(p.pileNo ?? '') }) : p.details?.takeover === true ? takeover() : p.message;
        report(() => Object.assign(new Error(text()), { code: p.code }), { pileNo: p.pileNo ?? undefined, remote: p.remote, sessionId: p.sessionId, details: p.details }, {
          // Record problems (a foreign record, a record bound) have an allowance of their own: framing
          // noise under the same code (YKC_FIELD, YKC_LIMIT from refused connections) must not mute them.
          code: p.details?.about === 'record' ? `${p.code}/record` : p.code,
          pileNo: p.pileNo,
          always: p.details?.takeover === true,
        });
      });
      const host = (config.host ?? '').trim() || '0.0.0.0';
      const address = `${host}:${port}`;
      listenLoop = new ListenLoop(() => gw.listen(port, host), {
        failed: (f: ListenFailure) => {
          listenFailure = { address, cause: listenCause(f.cause), retryInMs: f.retryInMs };
          setStatus();
          // Once per change of cause, not at every retry: a port busy for an hour is one message.
          if (f.changed) {
            const text = RED._('ykc-server.errors.cannotListen', { address, cause: listenCause(f.cause), code: f.cause, max: String(LISTEN_RETRY_MAX_MS / 1000) });
            report(Object.assign(new Error(text), { code: 'YKC_LISTEN' }), { host, port, errno: f.cause });
          }
        },
        listening: (afterFailures: number) => {
          listening = true;
          listenFailure = null;
          node.log(RED._(afterFailures ? 'ykc-server.log.listeningAfter' : 'ykc-server.log.listening', { host, port: String(node.port()), tries: String(afterFailures + 1) }));
          cluster.start(gw);
          setStatus();
        },
      });
      node.ready = listenLoop.ready;
    } catch (e) {
      failed = true;
      node.ready = Promise.reject(e);
      node.ready.catch(() => {});
      report(e as Error);
    }

    if (config.metrics) metricsNodes.add(node);

    node.on('close', (_removed: boolean, done: () => void) => {
      metricsNodes.delete(node);
      listenLoop?.stop();
      if (statusTimer) clearTimeout(statusTimer);
      const gw = node.gateway;
      node.gateway = null;
      node.events = null;
      if (!gw) return void cluster.stop().then(() => done());
      // Piles first (their claims are cleared while the broker session is still up), then the cluster.
      gw.close()
        .catch(() => {})
        .then(() => cluster.stop())
        .then(() => done());
    });
  }

  RED.nodes.registerType('ykc-server', YkcServerConfig as unknown as (this: Node, def: NodeDef) => void);

  RED.httpAdmin.get('/ykc/metrics', RED.auth.needsPermission('ykc-server.read'), (_req, res) => {
    const snaps = [...metricsNodes].filter((n) => n.gateway).map((n) => ({ server: n.name || n.id, snap: n.gateway!.metrics() }));
    res.type('text/plain; version=0.0.4').send(toPrometheus(snaps));
  });

  // The editor's pile dropdowns: piles currently online on one server node.
  RED.httpAdmin.get('/ykc/servers/:id/piles', RED.auth.needsPermission('ykc-server.read'), (req, res) => {
    const n = RED.nodes.getNode(String(req.params.id)) as YkcServerNode | null;
    if (!n || !n.gateway) {
      res.status(404).json({ error: 'not found' });
      return;
    }
    const local = n.gateway.piles().map((p) => ({ pileNo: p.pileNo, remote: p.remote, version: p.version, pileType: p.pileType, gunCount: p.gunCount, firmwareVersion: p.firmwareVersion, iccid: p.iccid, guns: p.guns }));
    if (!n.cluster) return void res.json(local);
    // In a cluster: every instance's piles, each with the instance holding it.
    const here = n.cluster.id;
    const others = n.cluster.piles().filter((p) => !p.local).map((p) => ({ pileNo: p.pileNo, remote: p.remote, version: p.version, instance: p.instance }));
    res.json([...local.map((p) => ({ ...p, instance: here })), ...others]);
  });
};
