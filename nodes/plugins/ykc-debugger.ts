/**
 * The editor's "YKC" sidebar (a Node-RED plugin shipped in this pack): per ykc-server, the piles and
 * their frames as they happen, a capture download, and a form to send any platform → pile frame.
 *
 * Runtime side only: admin HTTP endpoints (read permission `ykc-server.read`, sending needs
 * `ykc-server.write`) and comms topics `ykc/debugger/<serverId>/{frames,piles}`. One GatewayTap per
 * server node, which listens to the gateway only while an editor holds a watch lease (the tab is
 * open), so an unwatched gateway pays nothing. See docs/debugger.md.
 */
import type { NodeAPI } from 'node-red';
import type { Request, Response } from 'express';
import { GatewayTap, TapBatch } from '../../src/gateway/tap';
import { ALL_FRAMES, schemaForName, schemaForType, YkcError } from '../../src/protocol';
import { downFrameForms } from '../../nodes/shared/frame-forms';
import type { YkcServerNode } from '../../nodes/shared/server-node';

const WATCHER_RE = /^[\w.-]{1,64}$/;
const PILE_RE = /^\d{14}$/;

export = function (RED: NodeAPI): void {
  const taps = new Map<string, GatewayTap>();
  const serverNode = (id: string): YkcServerNode | null => {
    const n = RED.nodes.getNode(id) as YkcServerNode | null;
    return n && (n as unknown as { type: string }).type === 'ykc-server' ? n : null;
  };
  const tapFor = (id: string): GatewayTap => {
    let t = taps.get(id);
    if (!t) {
      t = new GatewayTap(() => serverNode(id)?.gateway ?? null, {
        // Comms reach every connected editor whatever its permissions, so they carry only a notice
        // ("something new"); the tab then fetches through the permission-checked watch endpoint.
        frames: (batch: TapBatch) => RED.comms.publish(`ykc/debugger/${id}/frames`, { latest: batch.frames.at(-1)?.id ?? null }, false),
        piles: () => RED.comms.publish(`ykc/debugger/${id}/piles`, { changed: Date.now() }, false),
      });
      taps.set(id, t);
    }
    return t;
  };
  // A redeploy removes or replaces server nodes: drop taps whose node is gone.
  RED.events.on('flows:started', () => {
    for (const [id, t] of taps) {
      if (!serverNode(id)) {
        t.close();
        taps.delete(id);
      }
    }
  });

  const read = RED.auth.needsPermission('ykc-server.read');
  const write = RED.auth.needsPermission('ykc-server.write');
  const fail = (res: Response, status: number, code: string, message: string) => res.status(status).json({ code, message });
  /** The server node of the request, or a 404 already sent. */
  const withServer = (req: Request, res: Response): YkcServerNode | null => {
    const n = serverNode(String(req.params.id));
    if (!n) fail(res, 404, 'YKC_INPUT', `no ykc-server node ${req.params.id} is deployed`);
    return n;
  };

  RED.plugins.registerPlugin('ykc-debugger', { type: 'ykc-debugger' });

  RED.httpAdmin.get('/ykc/debugger/servers', read, (_req, res) => {
    const out: Array<Record<string, unknown>> = [];
    RED.nodes.eachNode((def: { id: string; type: string; name?: string; host?: string; port?: unknown }) => {
      if (def.type !== 'ykc-server') return;
      const n = serverNode(def.id);
      out.push({ id: def.id, name: def.name || '', host: def.host || '0.0.0.0', port: n?.port() ?? def.port ?? null, listening: !!n?.gateway?.address(), online: n?.gateway?.onlineCount() ?? 0 });
    });
    res.json(out);
  });

  // Names of every frame type (for the frame list) and the send form of each platform → pile frame.
  RED.httpAdmin.get('/ykc/debugger/frames', read, (_req, res) => {
    res.json({ all: ALL_FRAMES.map((s) => ({ type: s.type, name: s.name, zh: s.zh, en: s.en, dir: s.dir })), down: downFrameForms() });
  });

  RED.httpAdmin.get('/ykc/debugger/servers/:id/piles', read, (req, res) => {
    if (!withServer(req, res)) return;
    res.json(tapFor(String(req.params.id)).piles());
  });

  // Take or renew the watch lease of one editor tab; answers the frames it missed (after `after`).
  RED.httpAdmin.post('/ykc/debugger/servers/:id/watch', read, (req, res) => {
    const n = withServer(req, res);
    if (!n) return;
    const b = (req.body ?? {}) as { watcher?: unknown; pileNo?: unknown; after?: unknown; stop?: unknown };
    const watcher = String(b.watcher ?? '');
    if (!WATCHER_RE.test(watcher)) return void fail(res, 400, 'YKC_INPUT', 'watcher must be 1–64 letters, digits, "-", "_" or "."');
    const tap = tapFor(n.id);
    if (b.stop === true) {
      tap.unwatch(watcher);
      return void res.json({ watching: tap.watching });
    }
    const pileNo = typeof b.pileNo === 'string' && PILE_RE.test(b.pileNo) ? b.pileNo : null;
    const after = typeof b.after === 'number' ? b.after : undefined;
    let watching: boolean;
    try {
      watching = tap.watch(watcher);
    } catch (e) {
      return void fail(res, 429, (e as YkcError).code, (e as Error).message);
    }
    // The newest maxBatch frames after `after`; older ones the tab missed are counted (they stay in the capture).
    const missed = after === undefined ? [] : tap.recent({ pileNo, after });
    const frames = after === undefined ? tap.recent({ pileNo, limit: tap.limits.maxBatch }) : missed.slice(-tap.limits.maxBatch);
    res.json({ watching, leaseMs: tap.limits.leaseMs, frames, skipped: Math.max(0, missed.length - frames.length), piles: tap.piles() });
  });

  RED.httpAdmin.get('/ykc/debugger/servers/:id/capture', read, (req, res) => {
    const n = withServer(req, res);
    if (!n) return;
    const pileNo = typeof req.query.pileNo === 'string' && PILE_RE.test(req.query.pileNo) ? req.query.pileNo : null;
    const name = `ykc-${pileNo ?? 'all'}-${new Date().toISOString().replace(/[:.]/g, '-')}.jsonl`;
    res.setHeader('Content-Disposition', `attachment; filename="${name}"`);
    res.type('application/x-ndjson').send(tapFor(n.id).capture(pileNo));
  });

  RED.httpAdmin.post('/ykc/debugger/servers/:id/piles/:pileNo/send', write, (req, res) => {
    const n = withServer(req, res);
    if (!n) return;
    const pileNo = String(req.params.pileNo);
    if (!PILE_RE.test(pileNo)) return void fail(res, 400, 'YKC_INPUT', 'pile number must be 14 digits');
    const gw = n.gateway;
    if (!gw) return void fail(res, 409, 'YKC_OFFLINE', 'the gateway is not running');
    const b = (req.body ?? {}) as { type?: unknown; name?: unknown; body?: unknown; timeoutMs?: unknown };
    const schema = typeof b.type === 'number' ? schemaForType(b.type) : typeof b.name === 'string' ? schemaForName(b.name) : undefined;
    if (!schema || schema.dir !== 'down') return void fail(res, 400, 'YKC_INPUT', 'choose a platform → pile frame (type or name)');
    if (b.body !== undefined && (typeof b.body !== 'object' || b.body === null || Array.isArray(b.body))) return void fail(res, 400, 'YKC_INPUT', 'body must be an object');
    const timeoutMs = typeof b.timeoutMs === 'number' && b.timeoutMs >= 100 && b.timeoutMs <= 120_000 ? b.timeoutMs : undefined;
    const body = { ...(b.body as Record<string, unknown> | undefined), pileNo };
    const started = Date.now();
    gw.request(pileNo, { type: schema.type, body }, { timeoutMs }).then(
      (reply) => res.json({ sent: schema.name, reply, ms: Date.now() - started }),
      (e: unknown) => {
        const err = e instanceof YkcError ? e : new YkcError('YKC_INPUT', String(e));
        const status = err.code === 'YKC_FIELD' || err.code === 'YKC_INPUT' ? 400 : err.code === 'YKC_TIMEOUT' ? 504 : 409;
        res.status(status).json({ code: err.code, message: err.message, details: err.details });
      },
    );
  });
};
