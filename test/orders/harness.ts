/** A real gateway on 127.0.0.1, virtual piles on a sped-up clock, and an OrderTracker fed by the gateway. */
import assert from 'assert/strict';
import { EventEmitter } from 'events';
import { GatewayOptions, YkcServer } from '../../src/gateway';
import { AlarmPayload, OrderJournal, OrderPayload, OrderTracker, OrderTrackerOptions } from '../../src/orders';
import { VirtualPile, VirtualPileOptions } from '../../src/simulator';
import { nextEvent, sampleTariff } from '../simulator/platform';

/** Small thresholds: the piles run 100× faster, so their 15-s realtime period is 150 ms here. */
export const FAST: Partial<OrderTrackerOptions> = {
  sweepMs: 25,
  startNotConfirmedMs: 1500,
  realtimeSilentMs: 2000,
  offlineWhileChargingMs: 0,
  recordMissingMs: 1500,
  recordUnconfirmedMs: 60_000,
  recordUnconfirmedResends: 2,
  requestExpiryMs: 10_000,
};

export const SPEED = 100;
export const CARD = '00000000F1EE7001';

/** Everything an emitter said, and a wait for the first (new or past) item matching. */
export class Recorder<T> {
  readonly items: T[] = [];
  private readonly em = new EventEmitter();

  constructor(src: EventEmitter, event: string) {
    src.on(event, (v: T) => {
      this.items.push(v);
      this.em.emit('item', v);
    });
  }

  async wait(pred: (v: T) => boolean, timeoutMs = 8000, what = 'event'): Promise<T> {
    const past = this.items.find(pred);
    if (past) return past;
    return nextEvent<T>(this.em, 'item', pred, timeoutMs).catch(() => {
      throw new Error(`no ${what} within ${timeoutMs} ms; seen: ${JSON.stringify(this.items.map((x) => summary(x))).slice(0, 1500)}`);
    });
  }
}

function summary(x: unknown): unknown {
  const o = x as Record<string, unknown>;
  return o.code ? [o.code, o.active, String(o.tradeNo).slice(-6)] : [o.state, String(o.tradeNo).slice(-6)];
}

export class Rig {
  gw!: YkcServer;
  port = 0;
  tracker!: OrderTracker;
  states!: Recorder<OrderPayload>;
  alarms!: Recorder<AlarmPayload>;
  detach: (() => void) | null = null;
  readonly piles: VirtualPile[] = [];
  readonly tariff = sampleTariff('0100');

  async start(gwOpts: Partial<GatewayOptions> = {}, trackerOpts: Partial<OrderTrackerOptions> = {}, journal?: OrderJournal): Promise<this> {
    this.gw = new YkcServer({ autoTimeSync: false, ...gwOpts });
    this.gw.setTariff(null, this.tariff.toBody() as unknown as Parameters<YkcServer['setTariff']>[1]);
    this.port = (await this.gw.listen(0, '127.0.0.1')).port;
    this.track(trackerOpts, journal);
    return this;
  }

  /** A (new) tracker attached to the running gateway. */
  track(trackerOpts: Partial<OrderTrackerOptions> = {}, journal?: OrderJournal): OrderTracker {
    this.tracker = new OrderTracker({ ...FAST, ...trackerOpts }, journal);
    this.states = new Recorder(this.tracker, 'state');
    this.alarms = new Recorder(this.tracker, 'alarm');
    this.detach = this.tracker.attach(this.gw);
    return this.tracker;
  }

  untrack(): void {
    this.detach?.();
    this.detach = null;
    this.tracker.stop();
  }

  async pile(n: number, opts: Partial<VirtualPileOptions> = {}): Promise<VirtualPile> {
    const p = new VirtualPile({ port: this.port, pileNo: String(32010300000000 + n), speed: SPEED, seed: n, guns: 2, ...opts });
    this.piles.push(p);
    const model = nextEvent(p, 'tariff', () => true, 8000);
    p.connect();
    await p.waitOnline(8000);
    await model;
    return p;
  }

  /** Remote start through the gateway (0x34); resolves with the trade number once the pile accepted. */
  async remoteStart(p: VirtualPile, gunNo: number, tradeNo: string): Promise<string> {
    p.plug(gunNo, { batteryKwh: 200, soc: 10 });
    const r = await this.gw.request(p.pileNo, {
      type: 0x34,
      body: { tradeNo, pileNo: p.pileNo, gunNo, logicalCardNo: '0000000000000001', physicalCardNo: '0000000000000001', balance: 500 },
    }, { timeoutMs: 5000 });
    assert.equal(r?.body.result, 1, 'start accepted');
    return tradeNo;
  }

  async remoteStop(p: VirtualPile, gunNo: number): Promise<void> {
    const r = await this.gw.request(p.pileNo, { type: 0x36, body: { pileNo: p.pileNo, gunNo } }, { timeoutMs: 5000 });
    assert.equal(r?.body.result, 1, 'stopped');
  }

  async close(): Promise<void> {
    this.untrack();
    await Promise.all(this.piles.splice(0).map((p) => p.close()));
    await this.gw?.close();
  }
}

let tradeSeq = 0;
/** A fresh platform trade number (32 digits) per call. */
export function trade(pileN: number): string {
  tradeSeq++;
  return `${String(32010300000000 + pileN)}01${String(Date.now() % 1e12).padStart(12, '0')}${String(tradeSeq).padStart(4, '0')}`;
}
