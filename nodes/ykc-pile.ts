/**
 * ykc-pile: a virtual charging pile (src/simulator VirtualPile) inside a flow, so a demo or an
 * example runs with no hardware. It connects to a ykc-server of the same Node-RED (its bound port, on
 * loopback) or to any host:port, and is driven by messages (plug, card, stop, fault…). Output 1 carries
 * what it sends and receives (decoded frames) and its session / record / tariff events; output 2 its
 * state snapshots, for dashboards.
 *
 * "disconnect" switches the pile off (VirtualPile.close() is final): a fresh pile object takes its
 * place, keeping its meter readings, billing model and offline cards, and waits for "connect".
 */
import type { Node, NodeAPI, NodeDef, NodeMessage, NodeMessageInFlow, NodeStatus } from 'node-red';
import { DecodedFrame, maskedHex, maskFrame, YkcError, YkcErrorCode } from '../src/protocol';
import type { Tariff } from '../src/billing/tariff';
import { CardOutcome, CarOptions, normCard, PileFaults, PileOtaEvent, PileRecordEvent, PileSessionEvent, PileSnapshot, VirtualPile, VirtualPileOptions } from '../src/simulator';
import { catalogueDescriber, ErrorThrottle, NodeError, toNodeError } from './shared/errors';
import type { YkcServerNode } from './shared/server-node';

interface YkcPileDef extends NodeDef {
  /** A ykc-server config node: connect to its bound port on loopback. Empty: host + port. */
  server?: string;
  host?: string;
  port?: string | number;
  pileNo?: string;
  pileType?: string;
  guns?: string | number;
  version?: string;
  /** Rated power per gun, kW; empty = DC 60, AC 7. */
  powerKw?: string | number;
  firmware?: string;
  /** Clock factor: 1 = real time, 60 = a simulated minute per real second. */
  speed?: string | number;
  /** Connect when deployed (default true). */
  autoConnect?: boolean;
  /** Emit heartbeats (0x03 / 0x04) on output 1 too (default false). */
  heartbeats?: boolean;
  /** Add the frame's bytes as hex to msg.ykc.raw. */
  raw?: boolean;
}

interface PileStatus extends NodeStatus {
  pileNo?: string;
  link?: string;
  charging?: number;
  code?: string;
}

type Action = 'connect' | 'disconnect' | 'plug' | 'unplug' | 'card' | 'fault' | 'clearFault' | 'stop' | 'full' | 'reboot' | 'faults' | 'status';
const ACTIONS: readonly Action[] = ['connect', 'disconnect', 'plug', 'unplug', 'card', 'fault', 'clearFault', 'stop', 'full', 'reboot', 'faults', 'status'];
/** Actions about one gun. */
const GUN_ACTIONS = new Set<Action>(['plug', 'unplug', 'card', 'fault', 'clearFault', 'stop', 'full']);

const MAX_GUNS = 8;
const MAX_SPEED = 1000;
const HEARTBEATS = new Set([0x03, 0x04]);
/** pile.close() destroys its sockets, so it ends at once; this only guards the runtime's close timeout. */
const CLOSE_GUARD_MS = 10_000;

/** Car fields plug accepts (capacityKwh is an alias of batteryKwh) and their ranges. */
const CAR_FIELDS: Record<string, [number, number]> = { batteryKwh: [1, 1000], capacityKwh: [1, 1000], soc: [0, 100], targetSoc: [1, 100], packVoltage: [12, 1500] };
/** Fault-injection switches and whether each is a probability (boolean or 0–1) or a number of ms. */
const FAULT_KINDS: Record<keyof PileFaults, 'bool' | 'prob' | 'ms' | 'int'> = {
  splitWrites: 'bool',
  mergeWrites: 'bool',
  garbage: 'prob',
  hiFirstCrc: 'bool',
  staleConnection: 'bool',
  clockSkewMs: 'ms',
  silence: 'bool',
  dropReplies: 'prob',
  holdRecords: 'bool',
  meterJump: 'int',
  reuseTradeNo: 'bool',
};

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v) && !Buffer.isBuffer(v);

const numberOf = (v: unknown): number => (typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN);

/** Where to reach a gateway listening on `address`: loopback for a wildcard bind. */
function connectHost(address: string): string {
  if (address === '0.0.0.0' || address === '') return '127.0.0.1';
  if (address === '::') return '::1';
  return address;
}

export = function (RED: NodeAPI): void {
  function YkcPileNode(this: Node, config: YkcPileDef) {
    RED.nodes.createNode(this, config);
    const node = this;
    const describe = catalogueDescriber(RED, 'ykc-pile');
    const throttle = new ErrorThrottle();
    /** Errors whose message already comes from our catalogue: no translated code prefix. */
    const localised = new WeakSet<Error>();
    const t = (key: string, params: Record<string, unknown> = {}) => RED._(`ykc-pile.${key}`, params as Record<string, string>);
    const fail = (key: string, params: Record<string, unknown> = {}, code: YkcErrorCode = 'YKC_INPUT'): YkcError => {
      const e = new YkcError(code, t(`errors.${key}`, params), params);
      localised.add(e);
      return e;
    };
    const nodeError = (e: unknown): NodeError => toNodeError(e, e instanceof Error && localised.has(e) ? undefined : describe);

    const pileNo = String(config.pileNo ?? '').trim();
    const guns = numberOf(config.guns ?? 1);
    const withHeartbeats = !!config.heartbeats;
    const withRaw = !!config.raw;

    let pile: VirtualPile | null = null;
    /** Resolves with the current pile once its endpoint is known (the server listening). */
    let pileReady: Promise<VirtualPile>;
    /** The flow wants the pile connected (auto-connect or "connect", until "disconnect"). */
    let wanted = config.autoConnect !== false;
    /** Piles that were told to connect (connect() only once per pile: a second call could open a second link). */
    const started = new WeakSet<VirtualPile>();
    /** Why the pile cannot run (bad configuration, server not listening); inputs are refused with it. */
    let failure: NodeError | null = null;
    let configError: unknown = null;
    let closing = false;
    let lastStatus = '';
    let lastState = '';
    let offlineReported = false;

    function setStatus(s: PileStatus): void {
      const key = JSON.stringify(s);
      if (key === lastStatus || closing) return;
      lastStatus = key;
      node.status(s);
    }

    function updateStatus(): void {
      if (failure) return setStatus({ fill: 'red', shape: 'ring', text: t('status.error', { code: failure.code }), code: failure.code, pileNo });
      if (!pile) return setStatus({ fill: 'grey', shape: 'ring', text: t('status.waiting'), pileNo });
      const link = pile.linkState;
      const charging = pile.chargingGuns;
      const base = { pileNo, link, charging };
      switch (link) {
        case 'online':
          return setStatus({ fill: 'green', shape: 'dot', text: charging ? t('status.charging', { count: charging }) : t('status.online'), ...base });
        case 'connecting':
        case 'login':
          return setStatus({ fill: 'grey', shape: 'ring', text: t('status.connecting'), ...base });
        case 'rebooting':
          return setStatus({ fill: 'yellow', shape: 'ring', text: t('status.rebooting'), ...base });
        case 'offline':
          return wanted && started.has(pile)
            ? setStatus({ fill: 'red', shape: 'ring', text: t('status.offline'), ...base })
            : setStatus({ fill: 'grey', shape: 'ring', text: t('status.disconnected'), ...base });
        default:
          return setStatus({ fill: 'grey', shape: 'ring', text: t('status.disconnected'), ...base });
      }
    }

    /** Reports an error outside an input handler: with a msg so Catch nodes see it, rate-limited. */
    function report(e: unknown): void {
      const err = nodeError(e);
      const held = throttle.admit();
      if (held === null) return;
      if (held > 0) err.message += ` (${held} earlier error${held > 1 ? 's' : ''} not reported)`;
      node.error(err, { topic: `ykc-pile/${pileNo}/error`, payload: { code: err.code, message: err.message }, ykc: { pileNo, name: 'error' } } as NodeMessage);
    }

    // ---- configuration --------------------------------------------------------------------------

    function parseConfig(): Omit<VirtualPileOptions, 'host' | 'port'> {
      if (!/^\d{14}$/.test(pileNo)) throw fail('badPileNo', { pileNo });
      const pileType = config.pileType || 'DC';
      if (pileType !== 'DC' && pileType !== 'AC') throw fail('badPileType', { pileType });
      if (!Number.isInteger(guns) || guns < 1 || guns > MAX_GUNS) throw fail('badGuns', { guns: String(config.guns), max: MAX_GUNS });
      const version = String(config.version || '1.5');
      if (version !== '1.5' && version !== '1.6') throw fail('badVersion', { version });
      const speed = config.speed === undefined || String(config.speed).trim() === '' ? 1 : numberOf(config.speed);
      if (!(speed > 0 && speed <= MAX_SPEED)) throw fail('badSpeed', { speed: String(config.speed), max: MAX_SPEED });
      const opts: Omit<VirtualPileOptions, 'host' | 'port'> = { pileNo, pileType, guns, version, speed };
      if (config.powerKw !== undefined && String(config.powerKw).trim() !== '') {
        const kw = numberOf(config.powerKw);
        if (!(kw > 0 && kw <= 1000)) throw fail('badPower', { power: String(config.powerKw) });
        opts.powerKw = kw;
      }
      const fw = String(config.firmware ?? '').trim();
      if (fw) {
        if (fw.length > 8 || !/^[\x20-\x7e]+$/.test(fw)) throw fail('badFirmware', { firmware: fw });
        opts.firmware = fw;
      }
      return opts;
    }

    function endpointOf(): Promise<{ host: string; port: number }> {
      if (config.server) {
        const server = RED.nodes.getNode(config.server) as YkcServerNode | null;
        if (!server) throw fail('noServer', {}, 'YKC_OFFLINE');
        return server.ready.then(
          () => {
            const a = server.gateway?.address();
            if (!a) throw fail('serverDown', {}, 'YKC_OFFLINE');
            return { host: connectHost(a.address), port: a.port };
          },
          () => {
            throw fail('serverDown', {}, 'YKC_OFFLINE');
          },
        );
      }
      const host = String(config.host ?? '').trim() || '127.0.0.1';
      const port = config.port === undefined || String(config.port).trim() === '' ? 8768 : numberOf(config.port);
      if (!Number.isInteger(port) || port < 1 || port > 65535) throw fail('badPort', { port: String(config.port) });
      return Promise.resolve({ host, port });
    }

    // ---- the pile's events → messages -----------------------------------------------------------

    function frameOut(direction: 'sent' | 'received', frame: DecodedFrame, raw: Buffer): void {
      if (!withHeartbeats && HEARTBEATS.has(frame.type)) return;
      // The OTA FTP password a platform sends never reaches a message (src/protocol/secrets.ts).
      const f = maskFrame(frame);
      const body = f.body;
      const ykc: Record<string, unknown> = { pileNo, type: f.type, name: f.name, seq: f.seq, direction };
      if (typeof body.gunNo === 'number') ykc.gunNo = body.gunNo;
      if (typeof body.tradeNo === 'string') ykc.tradeNo = body.tradeNo;
      if (withRaw) ykc.raw = maskedHex(raw);
      node.send([{ topic: `ykc-pile/${pileNo}/${direction}/${f.name}`, payload: body, ykc } as NodeMessage, null]);
    }

    function eventOut(name: 'session' | 'record' | 'tariff' | 'ota', payload: Record<string, unknown>, extra: Record<string, unknown> = {}): void {
      const ykc: Record<string, unknown> = { pileNo, name };
      for (const [k, v] of Object.entries(extra)) if (v !== undefined) ykc[k] = v;
      if (typeof payload.tradeNo === 'string') ykc.tradeNo = payload.tradeNo;
      node.send([{ topic: `ykc-pile/${pileNo}/${name}`, payload, ykc } as NodeMessage, null]);
    }

    function stateOut(snap: PileSnapshot): void {
      const key = JSON.stringify(snap);
      if (key === lastState) return;
      lastState = key;
      node.send([null, { topic: `ykc-pile/${pileNo}/state`, payload: snap, ykc: { pileNo, name: 'state', link: snap.link } } as NodeMessage]);
    }

    function attach(p: VirtualPile): void {
      p.on('sent', (f: DecodedFrame, raw: Buffer) => frameOut('sent', f, raw));
      p.on('received', (f: DecodedFrame, raw: Buffer) => frameOut('received', f, raw));
      p.on('session', (ev: PileSessionEvent) => eventOut('session', { ...ev }, { gunNo: ev.gunNo, event: ev.event }));
      // The body is the pile's own copy, kept for resends: a flow that edits msg.payload must not touch it.
      p.on('record', (ev: PileRecordEvent) => eventOut('record', { ...ev, body: RED.util.cloneMessage(ev.body) }, { gunNo: ev.body.gunNo, event: ev.event }));
      p.on('ota', (ev: PileOtaEvent) => eventOut('ota', { ...ev }, { event: ev.status === 0 ? 'updated' : 'failed' }));
      p.on('tariff', (tariff: Tariff) => eventOut('tariff', tariff.toBody(pileNo) as unknown as Record<string, unknown>));
      p.on('state', (snap: PileSnapshot) => {
        if (snap.link === 'online') offlineReported = false;
        stateOut(snap);
        updateStatus();
      });
      p.on('error', (e: Error & { code?: string }) => {
        // A pile that cannot reach the platform retries for ever: say so once per outage.
        if (e.code === 'YKC_OFFLINE') {
          if (offlineReported) return;
          offlineReported = true;
        }
        report(e);
      });
    }

    function makePile(base: Omit<VirtualPileOptions, 'host' | 'port'>, ep: { host: string; port: number }, carry: Partial<VirtualPileOptions> = {}): VirtualPile {
      const p = new VirtualPile({ ...base, ...carry, host: ep.host, port: ep.port });
      attach(p);
      return p;
    }

    function connect(p: VirtualPile): void {
      wanted = true;
      if (!started.has(p)) {
        started.add(p);
        p.connect();
      }
      updateStatus();
    }

    // ---- start ----------------------------------------------------------------------------------

    let base: Omit<VirtualPileOptions, 'host' | 'port'> | null = null;
    let endpoint: { host: string; port: number } | null = null;
    try {
      base = parseConfig();
      const b = base;
      pileReady = endpointOf().then((ep) => {
        if (closing) throw fail('closed', {}, 'YKC_CLOSED');
        endpoint = ep;
        pile = makePile(b, ep);
        if (wanted) connect(pile);
        updateStatus();
        return pile;
      });
      pileReady.catch((e: unknown) => {
        if (closing) return;
        failure = nodeError(e);
        updateStatus();
        report(e);
      });
      updateStatus();
    } catch (e) {
      configError = e;
      failure = nodeError(e);
      pileReady = Promise.reject(e);
      pileReady.catch(() => undefined);
      updateStatus();
      report(e);
    }

    // ---- input ----------------------------------------------------------------------------------

    interface Command {
      action: Action;
      gun: number;
      fields: Record<string, unknown>;
    }

    function parseInput(msg: NodeMessage): Command {
      const p = msg.payload;
      const fields: Record<string, unknown> = isObject(p) ? { ...p } : typeof p === 'number' ? { gun: p } : {};
      const named = typeof fields.action === 'string' && fields.action.trim() ? fields.action : msg.topic;
      delete fields.action;
      if (typeof named !== 'string' || !named.trim()) throw fail('noAction', { actions: ACTIONS.join(', ') });
      const action = ACTIONS.find((a) => a.toLowerCase() === named.trim().toLowerCase());
      if (!action) throw fail('unknownAction', { action: named, actions: ACTIONS.join(', ') });
      let gun = 0;
      if (GUN_ACTIONS.has(action)) {
        const v = fields.gun ?? fields.gunNo;
        if (v === undefined || v === null || v === '') {
          if (guns !== 1) throw fail('noGun', { action, guns });
          gun = 1;
        } else {
          const n = typeof v === 'string' && /^\s*\d+\s*$/.test(v) ? Number(v) : v;
          if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > guns) throw fail('badGun', { gun: JSON.stringify(v), guns });
          gun = n;
        }
      }
      return { action, gun, fields };
    }

    function byteOf(v: unknown, field: string, dflt: number): number {
      if (v === undefined || v === null || v === '') return dflt;
      const n = typeof v === 'string' && /^\s*0x[0-9a-f]+\s*$/i.test(v) ? parseInt(v, 16) : numberOf(v);
      if (!Number.isInteger(n) || n < 0 || n > 0xff) throw fail('badByte', { field, value: JSON.stringify(v) });
      return n;
    }

    function carOf(v: unknown): CarOptions | undefined {
      if (v === undefined || v === null) return undefined;
      if (!isObject(v)) throw fail('badCar', { value: JSON.stringify(v) });
      const car: CarOptions = {};
      for (const [k, x] of Object.entries(v)) {
        if (k === 'vin') {
          if (typeof x !== 'string' || !/^[\x20-\x7e]{1,17}$/.test(x)) throw fail('badVin', { vin: JSON.stringify(x) });
          car.vin = x.padEnd(17, '0');
          continue;
        }
        const range = Object.hasOwn(CAR_FIELDS, k) ? CAR_FIELDS[k] : undefined;
        if (!range) throw fail('carField', { field: k, fields: ['vin', ...Object.keys(CAR_FIELDS)].join(', ') });
        const n = numberOf(x);
        if (!(n >= range[0] && n <= range[1])) throw fail('carRange', { field: k, value: JSON.stringify(x), min: range[0], max: range[1] });
        car[k === 'capacityKwh' ? 'batteryKwh' : (k as 'batteryKwh' | 'soc' | 'targetSoc' | 'packVoltage')] = n;
      }
      return car;
    }

    function faultsOf(f: Record<string, unknown>): Partial<PileFaults> {
      const src = isObject(f.faults) ? f.faults : f;
      const out: Record<string, unknown> = {};
      const names = Object.keys(FAULT_KINDS).join(', ');
      for (const [k, v] of Object.entries(src)) {
        if (src === f && (k === 'gun' || k === 'gunNo')) continue;
        const kind = Object.hasOwn(FAULT_KINDS, k) ? FAULT_KINDS[k as keyof PileFaults] : undefined;
        if (!kind) throw fail('faultName', { name: k, names });
        const ok =
          kind === 'bool' ? typeof v === 'boolean' : kind === 'prob' ? typeof v === 'boolean' || (typeof v === 'number' && v >= 0 && v <= 1) : kind === 'int'
                ? typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 1e9
                : typeof v === 'number' && Number.isInteger(v) && Math.abs(v) <= 365 * 86_400_000;
        if (!ok) throw fail('faultValue', { name: k, value: JSON.stringify(v), kind: t(`label.faultKind.${kind}`) });
        out[k] = v;
      }
      if (Object.keys(out).length === 0) throw fail('noFaults', { names });
      return out as Partial<PileFaults>;
    }

    /** Replaces a closed pile by a fresh one (not connected) that keeps meters, model and offline cards. */
    async function switchOff(p: VirtualPile): Promise<VirtualPile> {
      wanted = false;
      const snap = p.snapshot();
      const carry: Partial<VirtualPileOptions> = {
        meterStart: Math.max(...snap.guns.map((g) => g.meter)),
        tariff: p.model,
        offlineCards: p.cards.list(),
      };
      await p.close();
      p.removeAllListeners();
      if (closing || !base || !endpoint) return p;
      const fresh = makePile(base, endpoint, carry);
      pile = fresh;
      pileReady = Promise.resolve(fresh);
      updateStatus();
      return fresh;
    }

    type Send = (msg: NodeMessage | Array<NodeMessage | null>) => void;

    async function handle(msg: NodeMessageInFlow, send: Send, done: (err?: Error) => void): Promise<void> {
      try {
        if (closing) throw fail('closed', {}, 'YKC_CLOSED');
        if (configError) throw configError;
        const { action, gun, fields } = parseInput(msg);
        // Everything is checked before anything is done.
        const car = action === 'plug' ? carOf(fields.car) : undefined;
        let card = '';
        if (action === 'card') {
          const c = normCard(fields.physicalCardNo);
          if (!c || /^0+$/.test(c)) throw fail('badCard', { card: JSON.stringify(fields.physicalCardNo) });
          card = c;
        }
        const reason = action === 'stop' ? byteOf(fields.reason ?? fields.stopReason, 'reason', 0x45) : action === 'fault' ? byteOf(fields.stopReason, 'stopReason', 0x71) : 0;
        let faultBits = 0;
        if (action === 'fault' && fields.faultBits !== undefined) {
          faultBits = numberOf(fields.faultBits);
          if (!Number.isInteger(faultBits) || faultBits < 1 || faultBits > 0xffff) throw fail('badFaultBits', { value: JSON.stringify(fields.faultBits) });
        }
        const faults = action === 'faults' ? faultsOf(fields) : null;

        // The server retries a busy port by itself and the pile connects once it listens; until then
        // inputs are refused at once rather than held (a queue that waits for a port could wait hours).
        if (!pile && config.server && !(RED.nodes.getNode(config.server) as YkcServerNode | null)?.gateway?.address()) throw fail('serverDown', {}, 'YKC_OFFLINE');
        const p = await pileReady;
        if (closing) throw fail('closed', {}, 'YKC_CLOSED');
        switch (action) {
          case 'connect':
            connect(p);
            break;
          case 'disconnect':
            await switchOff(p);
            break;
          case 'plug':
            p.plug(gun, car);
            break;
          case 'unplug':
            p.unplug(gun);
            break;
          case 'card': {
            // The answer can take the platform's time (0x31 → 0x32, 15 s before the offline list):
            // other messages go on meanwhile; this one leaves with the outcome.
            p.card(gun, card).then(
              (o: CardOutcome) => {
                if (closing) return done();
                msg.topic = `ykc-pile/${pileNo}/card`;
                msg.payload = { gunNo: gun, physicalCardNo: card, ...o };
                msg.ykc = { pileNo, gunNo: gun, name: 'card', result: o.result, ...(o.result === 'started' ? { tradeNo: o.session.tradeNo } : o.result === 'stopped' ? { tradeNo: o.tradeNo } : {}) };
                send([msg, null]);
                done();
              },
              (e: unknown) => done(nodeError(e)),
            );
            return;
          }
          case 'fault':
            p.fault(gun, faultBits ? { stopReason: reason, faultBits } : { stopReason: reason });
            break;
          case 'clearFault':
            p.clearFault(gun);
            break;
          case 'stop':
          case 'full':
            if (!(action === 'stop' ? p.stop(gun, reason) : p.carFull(gun))) throw fail('notCharging', { gun });
            break;
          case 'reboot':
            if (!wanted) throw fail('notConnected', {}, 'YKC_OFFLINE');
            p.reboot();
            break;
          case 'faults':
            p.setFaults(faults!);
            break;
          case 'status':
            msg.topic = `ykc-pile/${pileNo}/state`;
            msg.payload = p.snapshot();
            msg.ykc = { pileNo, name: 'state', link: p.linkState };
            send([null, msg]);
            break;
        }
        updateStatus();
        done();
      } catch (e) {
        done(nodeError(e));
      }
    }

    // One message at a time, in order ("disconnect" then "connect" must not overlap).
    let queue: Promise<void> = Promise.resolve();
    node.on('input', (msg, send, done) => {
      queue = queue.then(() => handle(msg, send, done));
    });

    node.on('close', (removed: boolean, done: () => void) => {
      closing = true;
      const p = pile;
      pile = null;
      if (!p) return done();
      p.removeAllListeners();
      let finished = false;
      const finish = () => {
        if (finished) return;
        finished = true;
        clearTimeout(guard);
        done();
      };
      const guard = setTimeout(finish, CLOSE_GUARD_MS);
      p.close().then(finish, finish);
    });
  }

  RED.nodes.registerType('ykc-pile', YkcPileNode);
};
