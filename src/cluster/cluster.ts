/**
 * YkcCluster: several gateways (YkcServer) acting as one through an MQTT broker (docs/cluster.md,
 * docs/architecture.md). It keeps a pile → instance directory (retained claims, instance liveness
 * by will), forwards requests for piles held elsewhere and runs the ones sent to it, and, when
 * some instance asks, publishes this instance's pile events. No Node-RED here.
 *
 * Delivery is at most once: a command is published once (QoS 1), the receiver runs each
 * correlation id once, a reply that comes after the caller gave up is dropped and counted.
 */
import { EventEmitter } from 'events';
import * as os from 'os';
import { DecodedFrame, FrameInput, schemaForName, schemaForType, YkcError, YkcErrorCode } from '../protocol';
import type { FrameEvent, GunStateChange, RecordEvent, RemotePiles, RequestOptions, SessionEvent, YkcServer } from '../gateway';
import type { ClusterMessage, ClusterTransport } from './transport';
import { CLUSTER_NAME, CommandMessage, EventKind, InstanceRecord, parseJson, PileClaim, ReplyMessage, TOPIC_LEVEL, Topics } from './topics';

export interface ClusterOptions {
  /** Topic prefix shared by the instances of one cluster. Default "ykc". */
  cluster?: string;
  /** This instance's id, one topic level (no / + #). */
  instance: string;
  /** Added to a forwarded request's timeout for the two broker hops before the caller gives up. Default 2000 ms. */
  transitGraceMs?: number;
  /** Correlation ids remembered to refuse a second delivery of one command. Default 10 000. */
  dedupeWindow?: number;
  /** Forwarded requests waiting for a reply at once. Default 10 000. */
  maxPendingForwards?: number;
}

export interface ClusterPile {
  pileNo: string;
  instance: string;
  remote: string;
  version: string | null;
  since: number;
  local: boolean;
}

/** A pile event of another instance (ykc-in "whole cluster"). */
export interface RemoteEvent {
  kind: EventKind;
  instance: string;
  pileNo: string;
  event: Record<string, unknown>;
}

export interface ClusterCounters {
  forwarded: number;
  forwardTimeouts: number;
  lateReplies: number;
  served: number;
  duplicatesDropped: number;
  badMessages: number;
  claimsPublished: number;
  claimsCleared: number;
  eventsPublished: number;
  eventsReceived: number;
}

interface Pending {
  pileNo: string;
  instance: string;
  timer: NodeJS.Timeout;
  resolve(f: DecodedFrame | null): void;
  reject(e: YkcError): void;
}

export interface ClusterEvents {
  event: [RemoteEvent];
  /** The directory changed (a claim or an instance came or went). */
  directory: [];
  problem: [{ code: string; message: string; details?: Record<string, unknown> }];
}

/** Frames not worth a broker message each in cluster-wide events (a heartbeat per pile every 10 s). */
const QUIET_TYPES = new Set([0x03, 0x04]);
/** Piles one instance may watch by name in its liveness record; beyond, it asks for every event. */
const MAX_WATCH = 500;

export class YkcCluster extends EventEmitter<ClusterEvents> implements RemotePiles {
  readonly id: string;
  readonly topics: Topics;
  readonly counters: ClusterCounters = {
    forwarded: 0, forwardTimeouts: 0, lateReplies: 0, served: 0, duplicatesDropped: 0, badMessages: 0,
    claimsPublished: 0, claimsCleared: 0, eventsPublished: 0, eventsReceived: 0,
  };
  private readonly grace: number;
  private readonly dedupeWindow: number;
  private readonly maxPending: number;
  private readonly claims = new Map<string, PileClaim>();
  private readonly instances = new Map<string, InstanceRecord>();
  /** Epoch of the claims this instance published (to avoid publishing one twice per connection). */
  private readonly claimed = new Map<string, number>();
  private readonly pending = new Map<string, Pending>();
  private readonly seen = new Map<string, number>();
  private epoch = 0;
  private counter = 0;
  private eventUsers = 0;
  /** Piles whose events a node here follows (ykc-start waiting for charging), with a count of watchers. */
  private readonly watching = new Map<string, number>();
  private eventsSubscribed = false;
  /** What the other instances ask this one to publish: every event, or those of some piles. */
  private othersWant: { all: boolean; piles: Set<string> } = { all: false, piles: new Set() };
  private started = false;
  private stopped = false;
  private readonly detach: Array<() => void> = [];

  constructor(readonly server: YkcServer, readonly transport: ClusterTransport, opts: ClusterOptions) {
    super();
    const cluster = opts.cluster ?? 'ykc';
    if (!CLUSTER_NAME.test(cluster)) throw new YkcError('YKC_INPUT', `cluster name ${JSON.stringify(cluster)}: 1–4 topic levels of letters, digits, _ . : -`, { cluster });
    if (!TOPIC_LEVEL.test(opts.instance)) throw new YkcError('YKC_INPUT', `instance id ${JSON.stringify(opts.instance)}: 1–64 letters, digits, _ . : - (one topic level)`, { instance: opts.instance });
    this.id = opts.instance;
    this.topics = new Topics(cluster);
    this.grace = opts.transitGraceMs ?? 2000;
    this.dedupeWindow = opts.dedupeWindow ?? 10_000;
    this.maxPending = opts.maxPendingForwards ?? 10_000;
  }

  /** Default instance id: host name and gateway port (stable across restarts, distinct per process). */
  static defaultInstanceId(port: number | null): string {
    const host = os.hostname().replace(/[^A-Za-z0-9_.-]/g, '_').slice(0, 48) || 'host';
    return `${host}-${port ?? process.pid}`;
  }

  /** The will the transport must carry: an empty retained message clearing this instance's liveness. */
  static willFor(cluster: string, instance: string): { topic: string; payload: string; retain: boolean; qos: 1 } {
    return { topic: new Topics(cluster).instance(instance), payload: '', retain: true, qos: 1 };
  }

  // ---- life cycle ----------------------------------------------------------------------------

  /** Hooks into the gateway and the transport; safe to call before the transport is connected. */
  start(): void {
    if (this.started) return;
    this.started = true;
    this.server.remote = this;
    this.transport.onMessage((m) => this.onMessage(m));
    this.transport.onConnect(() => void this.announce());
    this.transport.onDisconnect(() => this.emit('directory'));
    const on = <K extends 'online' | 'offline' | 'frame' | 'record' | 'gunState'>(ev: K, h: (...a: never[]) => void) => {
      this.server.on(ev, h as never);
      this.detach.push(() => this.server.off(ev, h as never));
    };
    on('online', (e: SessionEvent & { version: string | null }) => this.onOnline(e));
    on('offline', (e: SessionEvent) => this.onOffline(e));
    on('frame', (e: FrameEvent) => this.publishEvent('frame', e));
    on('record', (e: RecordEvent) => this.publishEvent('record', e));
    on('gunState', (c: GunStateChange) => {
      if (this.eventsWanted(c.pileNo) && this.transport.connected()) this.sendEvent('gunState', c.pileNo, { ...c, at: Date.now() });
    });
    if (this.transport.connected()) void this.announce();
  }

  /** Clears this instance's liveness (its claims become stale at once), then ends the session. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const f of this.detach) f();
    if (this.server.remote === this) this.server.remote = null;
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer);
      p.reject(new YkcError('YKC_CLOSED', `cluster instance ${this.id} stopped before pile ${p.pileNo} answered`, { pileNo: p.pileNo, instance: p.instance }));
      this.pending.delete(id);
    }
    if (this.transport.connected()) await this.transport.publish(this.topics.instance(this.id), '', { qos: 1, retain: true }).catch(() => {});
    await this.transport.end();
  }

  private async announce(): Promise<void> {
    if (this.stopped) return;
    this.epoch = Math.max(Date.now(), this.epoch + 1);
    // What we knew may be stale (instances died, the broker restarted empty): the subscription below
    // delivers the retained directory again, and our own claims are published again below.
    this.instances.clear();
    this.recomputeWants();
    this.claims.clear();
    this.claimed.clear();
    this.emit('directory');
    const subs = [this.topics.instances, this.topics.piles, this.topics.cmd(this.id), this.topics.reply(this.id)];
    this.eventsSubscribed = this.needEvents();
    if (this.eventsSubscribed) subs.push(this.topics.events);
    try {
      await this.transport.subscribe(subs, 1);
      await this.publishInstance();
      for (const p of this.server.piles()) if (p.pileNo && p.state === 'online') await this.publishClaim(p.pileNo, p.remote, p.version, p.loggedInAt ?? Date.now());
    } catch (e) {
      this.problem('YKC_OFFLINE', `cluster ${this.topics.cluster}: announcing instance ${this.id} failed (${(e as Error).message}); retried on the next connection`);
    }
  }

  private record(): InstanceRecord {
    const watch = [...this.watching.keys()];
    // Beyond MAX_WATCH piles the record would grow too big: ask for every event instead.
    const all = this.eventUsers > 0 || watch.length > MAX_WATCH;
    return { instance: this.id, epoch: this.epoch, host: os.hostname(), events: all, ...(!all && watch.length ? { watch } : {}), v5: this.transport.v5 };
  }

  private publishInstance(): Promise<void> {
    const rec = this.record();
    this.instances.set(this.id, rec);
    return this.transport.publish(this.topics.instance(this.id), JSON.stringify(rec), { qos: 1, retain: true });
  }

  // ---- directory -----------------------------------------------------------------------------

  private async publishClaim(pileNo: string, remote: string, version: string | null, since: number): Promise<void> {
    if (!this.transport.connected() || this.claimed.get(pileNo) === this.epoch) return;
    const claim: PileClaim = { instance: this.id, epoch: this.epoch, remote, version, since };
    this.claimed.set(pileNo, this.epoch);
    this.claims.set(pileNo, claim);
    this.counters.claimsPublished++;
    await this.transport.publish(this.topics.pile(pileNo), JSON.stringify(claim), { qos: 1, retain: true });
  }

  private clearClaim(pileNo: string): void {
    this.claims.delete(pileNo);
    this.claimed.delete(pileNo);
    if (!this.transport.connected()) return;
    this.counters.claimsCleared++;
    this.transport.publish(this.topics.pile(pileNo), '', { qos: 1, retain: true }).catch(() => {});
  }

  /** Re-publishes the claim of a pile online here (the directory lost or mis-states it). */
  private reassert(pileNo: string): void {
    const s = this.server.session(pileNo);
    if (!s || s.state !== 'online') return;
    this.claimed.delete(pileNo);
    const i = s.info();
    this.publishClaim(pileNo, i.remote, i.version, i.loggedInAt ?? Date.now()).catch(() => {});
  }

  private onOnline(e: SessionEvent & { version: string | null }): void {
    if (!e.pileNo) return;
    this.claimed.delete(e.pileNo);
    this.publishClaim(e.pileNo, e.remote, e.version, e.at).catch(() => {});
    if (this.eventsWanted(e.pileNo) && this.transport.connected()) this.sendEvent('online', e.pileNo, { ...e });
  }

  private onOffline(e: SessionEvent): void {
    if (!e.pileNo || this.server.isOnline(e.pileNo)) return; // replaced by a newer connection here
    if (this.eventsWanted(e.pileNo) && this.transport.connected()) this.sendEvent('offline', e.pileNo, { ...e });
    const c = this.claims.get(e.pileNo);
    // Only our own claim is cleared: the pile may already be claimed by the instance it moved to.
    if (c && c.instance === this.id) this.clearClaim(e.pileNo);
    else this.claimed.delete(e.pileNo);
  }

  private valid(c: PileClaim): boolean {
    const inst = this.instances.get(c.instance);
    return !!inst && inst.epoch === c.epoch;
  }

  /** The live instance holding a pile, other than this one; null when none does. */
  holder(pileNo: string): string | null {
    const c = this.claims.get(pileNo);
    if (!c || c.instance === this.id || !this.valid(c)) return null;
    return c.instance;
  }

  versionOf(pileNo: string): string | null {
    return this.holder(pileNo) !== null ? (this.claims.get(pileNo)?.version ?? null) : null;
  }

  pileNumbers(): string[] {
    const out: string[] = [];
    for (const [p, c] of this.claims) if (c.instance !== this.id && this.valid(c)) out.push(p);
    return out;
  }

  /** Every pile the cluster holds now (this instance's included), with its holder. */
  piles(): ClusterPile[] {
    const out: ClusterPile[] = [];
    const seen = new Set<string>();
    for (const p of this.server.piles()) {
      if (!p.pileNo) continue;
      seen.add(p.pileNo);
      out.push({ pileNo: p.pileNo, instance: this.id, remote: p.remote, version: p.version, since: p.loggedInAt ?? p.connectedAt, local: true });
    }
    for (const [pileNo, c] of this.claims) {
      if (seen.has(pileNo) || c.instance === this.id || !this.valid(c)) continue;
      out.push({ pileNo, instance: c.instance, remote: c.remote, version: c.version, since: c.since, local: false });
    }
    return out;
  }

  /** Live instances (this one included while connected). */
  liveInstances(): InstanceRecord[] {
    return [...this.instances.values()];
  }

  connected(): boolean {
    return this.transport.connected();
  }

  private onMessage(m: ClusterMessage): void {
    const t = this.topics.parse(m.topic);
    if (!t) return;
    try {
      if (t.kind === 'instances') this.onInstance(t.key, m.payload);
      else if (t.kind === 'piles') this.onClaim(t.key, m.payload);
      else if (t.kind === 'cmd' && t.key === this.id) this.onCommand(m);
      else if (t.kind === 'reply' && t.key === this.id) this.onReply(m);
      else if (t.kind === 'events' && t.rest.length === 1) this.onEvent(t.key, t.rest[0], m.payload);
    } catch (e) {
      this.counters.badMessages++;
      this.problem('YKC_INPUT', `cluster message on ${m.topic} not handled: ${(e as Error).message}`);
    }
  }

  private onInstance(id: string, payload: Buffer): void {
    const rec = parseJson<InstanceRecord>(payload);
    if (id === this.id) {
      // Our own record cleared while we are connected: a will of an earlier session of ours.
      if (!rec && this.transport.connected() && !this.stopped) this.publishInstance().catch(() => {});
      // A newer record under our id that we did not write: another process was given the same id.
      else if (rec && rec.epoch > this.epoch && rec.host !== undefined) {
        this.problem('YKC_INPUT', `another process announces itself as cluster instance ${this.id} (host ${rec.host}): give every instance its own id`, { instance: this.id, host: rec.host });
      }
      return;
    }
    if (!rec) {
      if (!this.instances.has(id)) return;
      this.instances.delete(id);
      this.recomputeWants();
      this.instanceGone(id);
      this.emit('directory');
      return;
    }
    if (rec.instance !== id || typeof rec.epoch !== 'number') {
      this.counters.badMessages++;
      return;
    }
    this.instances.set(id, rec);
    this.recomputeWants();
    this.emit('directory');
  }

  /** An instance died or left: its pending commands end, and the lowest live id tidies its retained claims. */
  private instanceGone(id: string): void {
    for (const [cid, p] of this.pending) {
      if (p.instance !== id) continue;
      clearTimeout(p.timer);
      this.pending.delete(cid);
      p.reject(new YkcError('YKC_CLOSED', `cluster instance ${id} went away before pile ${p.pileNo} answered (the command may or may not have reached the pile)`, { pileNo: p.pileNo, instance: id }));
    }
    const lowest = [...this.instances.keys()].sort()[0];
    if (lowest !== this.id) return;
    for (const [pileNo, c] of this.claims) if (c.instance === id) this.clearClaim(pileNo);
  }

  private onClaim(pileNo: string, payload: Buffer): void {
    const c = parseJson<PileClaim>(payload);
    const localOnline = this.server.isOnline(pileNo);
    if (!c) {
      this.claims.delete(pileNo);
      this.claimed.delete(pileNo);
      if (localOnline) this.reassert(pileNo);
      this.emit('directory');
      return;
    }
    if (typeof c.instance !== 'string' || typeof c.since !== 'number' || typeof c.epoch !== 'number') {
      this.counters.badMessages++;
      return;
    }
    if (c.instance === this.id) {
      if (c.epoch === this.epoch && localOnline) this.claims.set(pileNo, c);
      else if (localOnline) this.reassert(pileNo);
      else if (this.transport.connected()) this.clearClaim(pileNo); // a claim of an earlier run of ours
      return;
    }
    this.claims.set(pileNo, c);
    this.claimed.delete(pileNo);
    if (localOnline) {
      const mine = this.server.session(pileNo)!.info();
      const mineSince = mine.loggedInAt ?? mine.connectedAt;
      if (mineSince > c.since || (mineSince === c.since && this.id > c.instance)) this.reassert(pileNo);
      // The pile logged in again elsewhere: the connection here is a stale one (newest login wins).
      else if (this.valid(c)) this.server.session(pileNo)!.close(`pile ${pileNo} logged in again on cluster instance ${c.instance}`);
    }
    this.emit('directory');
  }

  // ---- commands: caller side --------------------------------------------------------------------

  request(pileNo: string, frame: FrameInput, opts: RequestOptions = {}): Promise<DecodedFrame | null> {
    const instance = this.holder(pileNo);
    if (!instance) return Promise.reject(new YkcError('YKC_OFFLINE', `pile ${pileNo} is not online`, { pileNo }));
    if (!this.transport.connected()) {
      return Promise.reject(new YkcError('YKC_OFFLINE', `pile ${pileNo} is held by cluster instance ${instance}, but this instance is not connected to the broker`, { pileNo, instance }));
    }
    if (this.pending.size >= this.maxPending) {
      return Promise.reject(new YkcError('YKC_LIMIT', `${this.pending.size} forwarded commands already wait for replies (maxPendingForwards)`, { pileNo, instance }));
    }
    const timeoutMs = opts.timeoutMs ?? this.server.options.requestTimeoutMs;
    const id = `${this.id}:${this.epoch}:${++this.counter}`;
    const msg: CommandMessage = {
      id, from: this.id, pileNo, timeoutMs, replyTo: this.topics.reply(this.id),
      frame: { type: frame.type, name: frame.name, body: frame.body as Record<string, unknown> | undefined },
    };
    this.counters.forwarded++;
    return new Promise<DecodedFrame | null>((resolve, reject) => {
      const p: Pending = {
        pileNo, instance, resolve, reject,
        timer: setTimeout(() => {
          this.pending.delete(id);
          this.counters.forwardTimeouts++;
          reject(new YkcError('YKC_TIMEOUT', `pile ${pileNo} (on cluster instance ${instance}) did not answer within ${timeoutMs} ms`, { pileNo, instance, timeoutMs }));
        }, timeoutMs + this.grace),
      };
      this.pending.set(id, p);
      this.transport
        .publish(this.topics.cmd(instance), JSON.stringify(msg), {
          qos: 1, responseTopic: msg.replyTo, correlationData: Buffer.from(id), expirySeconds: (timeoutMs + this.grace) / 1000,
        })
        .catch((e: Error) => {
          // Not retried: a second publish could deliver the command twice.
          if (this.pending.get(id) !== p) return;
          clearTimeout(p.timer);
          this.pending.delete(id);
          reject(new YkcError('YKC_OFFLINE', `command for pile ${pileNo} not handed to the broker: ${e.message}`, { pileNo, instance }));
        });
    });
  }

  /** A record acknowledgement (ykc-confirm) for a pile held by another instance: sent once, no reply awaited. */
  confirm(pileNo: string, tradeNo: string, ok: boolean, recordId?: string): boolean {
    const instance = this.holder(pileNo);
    if (!instance || !this.transport.connected()) return false;
    const msg: CommandMessage = { op: 'confirm', id: `${this.id}:${this.epoch}:${++this.counter}`, from: this.id, pileNo, tradeNo, ok, ...(recordId ? { recordId } : {}), frame: {}, timeoutMs: 0, replyTo: this.topics.reply(this.id) };
    this.counters.forwarded++;
    this.transport.publish(this.topics.cmd(instance), JSON.stringify(msg), { qos: 1 }).catch(() => {});
    return true;
  }

  private onReply(m: ClusterMessage): void {
    const r = parseJson<ReplyMessage>(m.payload);
    const id = m.correlationData?.toString('utf8') ?? r?.id;
    if (!r || !id) {
      this.counters.badMessages++;
      return;
    }
    const p = this.pending.get(id);
    if (!p) {
      this.counters.lateReplies++;
      return;
    }
    this.pending.delete(id);
    clearTimeout(p.timer);
    if (r.ok) p.resolve((r.frame ?? null) as DecodedFrame | null);
    else {
      const e = r.error ?? { code: 'YKC_CLOSED', message: 'remote instance gave no reason' };
      p.reject(new YkcError(e.code as YkcErrorCode, e.message, { ...(e.details ?? {}), instance: p.instance }));
    }
  }

  /** Commands currently waiting for a remote reply (tests, diagnostics). */
  pendingCount(): number {
    return this.pending.size;
  }

  // ---- commands: holder side -------------------------------------------------------------------

  private onCommand(m: ClusterMessage): void {
    const c = parseJson<CommandMessage>(m.payload);
    const id = m.correlationData?.toString('utf8') ?? c?.id;
    const replyTo = m.responseTopic ?? c?.replyTo;
    if (!c || !id || !replyTo || typeof c.pileNo !== 'string' || !c.frame || typeof c.frame !== 'object') {
      this.counters.badMessages++;
      return;
    }
    if (this.seen.has(id)) {
      this.counters.duplicatesDropped++;
      return;
    }
    this.seen.set(id, Date.now());
    if (this.seen.size > this.dedupeWindow) this.seen.delete(this.seen.keys().next().value as string);
    this.counters.served++;
    if (c.op === 'confirm') {
      if (typeof c.tradeNo === 'string') this.server.confirm({ tradeNo: c.tradeNo, pileNo: c.pileNo, id: typeof c.recordId === 'string' ? c.recordId : undefined, localOnly: true }, c.ok !== false);
      return;
    }
    const timeoutMs = Number.isFinite(c.timeoutMs) && c.timeoutMs > 0 ? c.timeoutMs : undefined;
    const answer = (r: Omit<ReplyMessage, 'id' | 'from'>) =>
      this.transport.publish(replyTo, JSON.stringify({ id, from: this.id, ...r }), { qos: 1, correlationData: m.correlationData ?? Buffer.from(id) }).catch(() => {});
    let run: Promise<DecodedFrame | null>;
    try {
      run = this.server.request(c.pileNo, c.frame as FrameInput, { timeoutMs, localOnly: true });
    } catch (e) {
      run = Promise.reject(e);
    }
    run.then(
      (f) => {
        this.afterAnswer(c, f);
        return answer({ ok: true, frame: f });
      },
      (e: unknown) => {
        const err = e instanceof YkcError ? e : new YkcError('YKC_CLOSED', (e as Error)?.message ?? String(e));
        return answer({ ok: false, error: { code: err.code, message: err.message, details: err.details } });
      },
    );
  }

  /** A billing model the pile accepted becomes its tariff here, where its 0x05/0x09 will arrive (as ykc-tariff does locally). */
  private afterAnswer(c: CommandMessage, f: DecodedFrame | null): void {
    const t = c.frame.type;
    const schema = typeof t === 'number' ? schemaForType(t) : schemaForName(String(t ?? c.frame.name ?? ''));
    if (schema?.type === 0x58 && f?.type === 0x57 && f.body.result === 1 && c.frame.body) {
      this.server.setTariff(c.pileNo, c.frame.body as never);
    }
  }

  // ---- events ------------------------------------------------------------------------------------

  /** A ykc-in wants every instance's events (true) or no longer (false); counted per user. */
  wantEvents(on: boolean): void {
    const before = this.eventUsers > 0;
    this.eventUsers = Math.max(0, this.eventUsers + (on ? 1 : -1));
    if (before !== this.eventUsers > 0) this.wantsChanged();
  }

  /**
   * Follow one pile's events (frames, records, online, offline) while it is held elsewhere, without
   * asking for every event of the cluster: the holder publishes that pile's events only. Counted per
   * watcher. The request travels in this instance's liveness record, published before any command
   * that follows on the same connection, so the holder knows before the pile can answer.
   */
  watchPile(pileNo: string, on: boolean): void {
    const n = (this.watching.get(pileNo) ?? 0) + (on ? 1 : -1);
    const before = this.watching.has(pileNo);
    if (n > 0) this.watching.set(pileNo, n);
    else this.watching.delete(pileNo);
    if (before !== this.watching.has(pileNo)) this.wantsChanged();
  }

  private needEvents(): boolean {
    return this.eventUsers > 0 || this.watching.size > 0;
  }

  private wantsChanged(): void {
    if (!this.transport.connected()) return; // announce() publishes and subscribes on the next connection
    const need = this.needEvents();
    if (need !== this.eventsSubscribed) {
      this.eventsSubscribed = need;
      (need ? this.transport.subscribe([this.topics.events], 0) : this.transport.unsubscribe([this.topics.events])).catch(() => {});
    }
    this.publishInstance().catch(() => {});
  }

  private recomputeWants(): void {
    const w = { all: false, piles: new Set<string>() };
    for (const r of this.instances.values()) {
      if (r.instance === this.id) continue;
      if (r.events) w.all = true;
      if (Array.isArray(r.watch)) for (const p of r.watch) w.piles.add(String(p));
    }
    this.othersWant = w;
  }

  private eventsWanted(pileNo: string): boolean {
    return this.othersWant.all || this.othersWant.piles.has(pileNo);
  }

  private publishEvent(kind: EventKind, e: FrameEvent | RecordEvent): void {
    if (!e.pileNo || !e.loggedIn || QUIET_TYPES.has(e.frame.type) || !this.eventsWanted(e.pileNo) || !this.transport.connected()) return;
    this.sendEvent(kind, e.pileNo, { ...e });
  }

  private sendEvent(kind: EventKind, pileNo: string, ev: Record<string, unknown>): void {
    this.counters.eventsPublished++;
    this.transport.publish(this.topics.event(pileNo, kind), JSON.stringify({ instance: this.id, ...ev }), { qos: kind === 'frame' ? 0 : 1 }).catch(() => {});
  }

  private onEvent(pileNo: string, kind: string, payload: Buffer): void {
    const ev = parseJson<Record<string, unknown>>(payload);
    if (!ev || ev.instance === this.id) return;
    if (kind !== 'frame' && kind !== 'record' && kind !== 'online' && kind !== 'offline' && kind !== 'gunState') return;
    this.counters.eventsReceived++;
    this.emit('event', { kind, instance: String(ev.instance), pileNo, event: ev });
  }

  private problem(code: string, message: string, details?: Record<string, unknown>): void {
    if (this.listenerCount('problem') > 0) this.emit('problem', { code, message, details });
  }
}
