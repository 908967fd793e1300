/**
 * Many virtual piles against one platform, for demos and load: distinct pile numbers counting up
 * from a base, one shared clock, a scenario that drives them, and aggregate figures.
 *
 * Scenarios (all on the shared simulated clock):
 *  - idle:   piles connect, log in, heartbeat and report realtime data; nothing else.
 *  - charge: every gun repeatedly gets a car, a card is presented (0x31; if the platform does not
 *            answer, the pile's offline-card list authorises it — every fleet pile has the fleet card
 *            in that list), charges 10–60 min (sessionMinutes) or until the car is full, is stopped by the card (or
 *            stops by itself), is unplugged and rests a few minutes. Remote starts (0x34) from the
 *            platform work as well on any plugged, idle gun.
 *  - faults: charge, with every pile but one in four carrying a fault profile (high-byte-first CRC,
 *            garbage, split or merged writes, clock skew, a stale connection, dropped replies) and
 *            occasional gun faults and silences.
 */
import { EventEmitter } from 'events';
import { YkcError } from '../protocol';
import { Clock, ScaledClock, TimerSet } from './clock';
import { PileFaults, PileOtaEvent, PileStats, PileTiming, PileType, ProtocolVersion, PileRecordEvent, PileSessionEvent, VirtualPile } from './pile';
import { Random } from './random';

export type Scenario = 'idle' | 'charge' | 'faults';

export interface FleetOptions {
  host?: string;
  port: number;
  /** Number of piles. */
  piles: number;
  /** First pile number (14 digits); pile i is base + i. Default 32010200000001. */
  basePileNo?: string;
  guns?: number;
  /** 'mixed' alternates DC and AC. Default DC. */
  pileType?: PileType | 'mixed';
  version?: ProtocolVersion;
  powerKw?: number;
  /** Simulated ms per real ms. Default 1. */
  speed?: number;
  /** A clock shared by all piles (default: a ScaledClock at `speed`). */
  clock?: Clock;
  seed?: number;
  scenario?: Scenario;
  /** Spread the first connections over this much simulated time. Default min(60 s, 5 ms × piles). */
  connectSpreadMs?: number;
  timing?: Partial<PileTiming>;
  /** How long a charge lasts before the card stops it (unless the car is full first), minutes. Default [10, 60]. */
  sessionMinutes?: [number, number];
  /** The card every fleet pile knows offline and presents in the charge scenario. */
  card?: { logicalCardNo: string; physicalCardNo: string };
}

export interface FleetStats extends PileStats {
  piles: number;
  online: number;
  charging: number;
  pendingRecords: number;
  /** Real ms since start(). */
  elapsedMs: number;
  /** Simulated ms since start(). */
  simulatedMs: number;
}

export const FLEET_CARD = { logicalCardNo: '1000000000000001', physicalCardNo: '00000000F1EE7001' };

const MIN = 60_000;

/** Adds `i` to a 14-digit pile number, keeping the digits. */
export function pileNoAt(base: string, i: number): string {
  if (!/^\d{14}$/.test(base)) throw new YkcError('YKC_INPUT', `base pile number must be 14 digits, got ${JSON.stringify(base)}`, { field: 'basePileNo' });
  const n = BigInt(base) + BigInt(i);
  const s = n.toString().padStart(14, '0');
  if (s.length > 14) throw new YkcError('YKC_INPUT', `pile number ${s} has more than 14 digits`, { field: 'basePileNo' });
  return s;
}

/** Fault profiles handed out round-robin in the 'faults' scenario (undefined = a clean pile). */
const PROFILES: (PileFaults | undefined)[] = [
  undefined,
  { hiFirstCrc: true },
  { garbage: 0.3 },
  { splitWrites: true },
  { mergeWrites: true },
  { clockSkewMs: 7 * MIN },
  { staleConnection: true },
  { dropReplies: 0.1 },
];

export class Fleet extends EventEmitter {
  readonly piles: VirtualPile[] = [];
  readonly clock: Clock;
  readonly scenario: Scenario;
  private readonly timers: TimerSet;
  private readonly rnd: Random;
  private readonly card: { logicalCardNo: string; physicalCardNo: string };
  private startedReal = 0;
  private startedSim = 0;
  private closed = false;

  constructor(readonly options: FleetOptions) {
    super();
    const n = options.piles;
    if (!Number.isInteger(n) || n < 1 || n > 100_000) throw new YkcError('YKC_INPUT', `piles must be 1–100000, got ${JSON.stringify(n)}`, { field: 'piles' });
    const scenario = options.scenario ?? 'idle';
    if (!['idle', 'charge', 'faults'].includes(scenario)) throw new YkcError('YKC_INPUT', `scenario must be idle, charge or faults, got ${JSON.stringify(scenario)}`, { field: 'scenario' });
    this.scenario = scenario;
    this.clock = options.clock ?? new ScaledClock(options.speed ?? 1);
    this.timers = new TimerSet(this.clock);
    this.rnd = new Random(options.seed ?? 1);
    this.card = options.card ?? FLEET_CARD;
    const sm = options.sessionMinutes;
    if (sm !== undefined && (!Array.isArray(sm) || sm.length !== 2 || !(sm[0] > 0) || !(sm[1] >= sm[0]))) {
      throw new YkcError('YKC_INPUT', `sessionMinutes must be [min, max] with 0 < min ≤ max, got ${JSON.stringify(sm)}`, { field: 'sessionMinutes' });
    }
    const base = options.basePileNo ?? '32010200000001';
    pileNoAt(base, n - 1);
    for (let i = 0; i < n; i++) {
      const type: PileType = options.pileType === 'mixed' ? (i % 2 ? 'AC' : 'DC') : (options.pileType ?? 'DC');
      const faults = scenario === 'faults' ? PROFILES[i % PROFILES.length] : undefined;
      this.piles.push(
        new VirtualPile({
          host: options.host,
          port: options.port,
          pileNo: pileNoAt(base, i),
          pileType: type,
          guns: options.guns ?? 1,
          version: options.version ?? '1.5',
          powerKw: options.powerKw,
          clock: this.clock,
          seed: (options.seed ?? 1) * 7919 + i,
          faults,
          timing: options.timing,
          offlineCards: scenario === 'idle' ? [] : [this.card],
        }),
      );
    }
  }

  /** Connects every pile (spread over connectSpreadMs of simulated time) and starts the scenario. */
  start(): void {
    if (this.closed) throw new YkcError('YKC_CLOSED', 'fleet is closed');
    this.startedReal = performance.now();
    this.startedSim = this.clock.now();
    const spread = this.options.connectSpreadMs ?? Math.min(MIN, 5 * this.piles.length);
    this.piles.forEach((p, i) => {
      const at = this.piles.length > 1 ? Math.floor((spread * i) / this.piles.length) : 0;
      this.timers.once(at, () => p.connect());
      if (this.scenario !== 'idle') {
        for (let g = 1; g <= p.gunCount; g++) this.timers.once(at + this.rnd.int(30_000, 3 * MIN), () => this.arrive(p, g));
      }
      if (this.scenario === 'faults') this.timers.once(at + this.rnd.int(10 * MIN, 40 * MIN), () => this.mischief(p));
      // One listener per running session (arrive) plus these two.
      p.setMaxListeners(p.gunCount + 10);
      p.on('session', (e: PileSessionEvent) => this.emit('session', { pileNo: p.pileNo, ...e }));
      p.on('record', (e: PileRecordEvent) => this.emit('record', { pileNo: p.pileNo, ...e }));
      p.on('ota', (e: PileOtaEvent) => this.emit('ota', { pileNo: p.pileNo, ...e }));
      // A pile's failures (connection refused, reset, bad frames) as 'problem' ('error' would throw unheard).
      p.on('error', (e: Error) => this.emit('problem', { pileNo: p.pileNo, code: (e as YkcError).code ?? 'YKC_OFFLINE', message: e.message, errno: (e as YkcError).details?.errno }));
    });
  }

  /** A car arrives at the gun: plug, present the card, charge, leave, come back later. */
  private arrive(p: VirtualPile, gun: number): void {
    if (this.closed) return;
    const st = p.gunStatus(gun);
    if (st.charging || st.plugged || st.faulted || st.waitingForPlug) return this.later(p, gun, 5 * MIN);
    p.plug(gun, { batteryKwh: this.rnd.int(40, 90), soc: this.rnd.int(5, 60) });
    p.card(gun, this.card.physicalCardNo).then(
      (out) => {
        if (out.result !== 'started') {
          this.timers.once(MIN, () => p.unplug(gun));
          return this.later(p, gun, 5 * MIN);
        }
        const trade = out.session.tradeNo;
        const onEnd = (e: PileSessionEvent) => {
          if (e.event !== 'ended' || e.gunNo !== gun || e.tradeNo !== trade) return;
          p.off('session', onEnd);
          this.timers.once(this.rnd.int(30_000, 3 * MIN), () => {
            p.unplug(gun);
            this.later(p, gun, this.rnd.int(2 * MIN, 10 * MIN));
          });
        };
        p.on('session', onEnd);
        const [lo, hi] = this.options.sessionMinutes ?? [10, 60];
        this.timers.once(this.rnd.int(Math.round(lo * MIN), Math.round(hi * MIN)), () => {
          if (p.gunStatus(gun).tradeNo === trade) p.card(gun, this.card.physicalCardNo).catch(() => {});
        });
      },
      () => this.later(p, gun, 5 * MIN),
    );
  }

  private later(p: VirtualPile, gun: number, ms: number): void {
    if (!this.closed) this.timers.once(ms, () => this.arrive(p, gun));
  }

  /** Faults scenario: now and then a gun fault (cleared after 2 min) or a minute of silence. */
  private mischief(p: VirtualPile): void {
    if (this.closed) return;
    if (this.rnd.chance(0.5)) {
      const gun = this.rnd.int(1, p.gunCount);
      p.fault(gun);
      this.timers.once(2 * MIN, () => p.clearFault(gun));
    } else {
      p.setFaults({ silence: true });
      this.timers.once(MIN, () => p.setFaults({ silence: false }));
    }
    this.timers.once(this.rnd.int(20 * MIN, 60 * MIN), () => this.mischief(p));
  }

  stats(): FleetStats {
    const sum: FleetStats = {
      piles: this.piles.length, online: 0, charging: 0, pendingRecords: 0,
      elapsedMs: this.startedReal ? performance.now() - this.startedReal : 0,
      simulatedMs: this.startedReal ? this.clock.now() - this.startedSim : 0,
      connects: 0, logins: 0, loginRejected: 0, reconnects: 0, heartbeatTimeouts: 0, reboots: 0,
      framesSent: 0, framesReceived: 0, bytesSent: 0, bytesReceived: 0, writes: 0, repliesDropped: 0,
      sessionsStarted: 0, sessionsEnded: 0, recordsSent: 0, recordsConfirmed: 0, recordsRefused: 0, recordsAbandoned: 0, errors: 0,
    };
    for (const p of this.piles) {
      if (p.online) sum.online++;
      sum.charging += p.chargingGuns;
      sum.pendingRecords += p.pendingRecordCount;
      const s = p.liveStats();
      for (const k of Object.keys(s) as (keyof PileStats)[]) sum[k] += s[k];
    }
    return sum;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.timers.clearAll();
    await Promise.all(this.piles.map((p) => p.close()));
  }
}
