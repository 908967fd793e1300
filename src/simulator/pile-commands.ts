/**
 * The virtual pile's answers to platform commands (docs/protocol.md §8): read realtime data 0x12, remote
 * start 0x34 / 0xA4 (parallel, 1.6 only) and stop 0x36, balance update 0x42, offline cards 0x44 /
 * 0x46 / 0x48, work parameters 0x52, time sync 0x56, billing model 0x58, parking lock 0x62, reboot
 * 0x92 and remote update 0x94 (the FTP download itself is ota.ts).
 *
 * Functions over a CommandHost: VirtualPile keeps the state, the link and the session play; this
 * file decides what each command does to them and what the pile answers. Replies to the pile's own
 * requests (0x02, 0x04, 0x06, 0x0A, 0x32, 0x40) are handled by the pile, not here.
 */
import { Body, DecodedFrame, YkcError, instantOf, parseWallTime } from '../protocol';
import { Tariff } from '../billing/tariff';
import { Clock, TimerSet } from './clock';
import { OfflineCardStore, normCard } from './cards';
import { downloadUpdate, OtaOutcome } from './ota';
import { Gun, PendingStart, startReplyBody } from './pile-session';
import { LinkState, PileOtaEvent, PileSessionEvent, PileSessionInfo, PileTiming, PileType, ProtocolVersion, STOP, VirtualPileOptions } from './pile-types';

/** Platform → pile commands the pile serves (replies to its own requests are handled apart). */
export const COMMANDS: ReadonlySet<number> = new Set([0x12, 0x34, 0x36, 0x42, 0x44, 0x46, 0x48, 0x52, 0x56, 0x58, 0x62, 0x92, 0x94, 0xa4]);

/** What the command handlers read and change on their pile. */
export interface CommandHost {
  readonly pileNo: string;
  readonly pileType: PileType;
  readonly version: ProtocolVersion;
  readonly opts: VirtualPileOptions;
  readonly clock: Clock;
  readonly timing: PileTiming;
  readonly timers: TimerSet;
  readonly cards: OfflineCardStore;
  readonly guns: readonly Gun[];
  readonly state: LinkState;
  /** The current connection, compared by identity only (a reconnect makes a new one). */
  readonly link: object | null;
  readonly tariff: Tariff | null;
  disabled: boolean;
  maxPowerPercent: number;
  wallOffset: number;
  firmware: string;
  rebootWhenIdle: boolean;
  /** Sends a reply, copying the request's sequence bytes. */
  reply(type: number, body: Body, seq: number): void;
  /** Sends a frame the pile originates; false while silent or without a link. */
  originate(type: number, body: Body): boolean;
  emit(event: 'session', e: PileSessionEvent): void;
  emit(event: 'ota', e: PileOtaEvent): void;
  fail(e: unknown): void;
  emitState(): void;
  /** The gun's 0x13 body now (the session meter brought up to date). */
  realtimeBody(g: Gun): Body;
  scheduleRealtime(g: Gun): void;
  accrue(g: Gun): void;
  gunWatts(g: Gun): number;
  checkLimits(g: Gun): void;
  beginSession(g: Gun, info: Omit<PileSessionInfo, 'gunNo' | 'startedAt'>): PileSessionInfo;
  endSession(g: Gun, stopReason: number): void;
  failedStartRecord(g: Gun, p: PendingStart, stopReason: number): void;
  acceptModel(body: Body): boolean;
  reboot(): void;
}

/** Serves one of COMMANDS (the caller has checked it is one, and that the pile is online). */
export function serveCommand(p: CommandHost, f: DecodedFrame): void {
  switch (f.type) {
    case 0x12:
      return onReadRealtime(p, f);
    case 0x34:
      return onRemoteStart(p, f, false);
    case 0xa4:
      return onRemoteStart(p, f, true);
    case 0x36:
      return onRemoteStop(p, f);
    case 0x42:
      return onBalanceUpdate(p, f);
    case 0x44:
      return onCardSync(p, f);
    case 0x46:
      return onCardClear(p, f);
    case 0x48:
      return onCardQuery(p, f);
    case 0x52:
      return onWorkParams(p, f);
    case 0x56:
      return onTimeSync(p, f);
    case 0x58:
      return onTariffPush(p, f);
    case 0x62:
      return onLockCommand(p, f);
    case 0x92:
      return onReboot(p, f);
    case 0x94:
      return onOta(p, f);
  }
}

/** The frame names this pile. */
export function mine(p: { readonly pileNo: string }, b: Body): boolean {
  return b.pileNo === p.pileNo;
}

/** The gun the frame names, if the pile has it. */
export function gunOf(guns: readonly Gun[], b: Body): Gun | undefined {
  const n = b.gunNo;
  return typeof n === 'number' && n >= 1 && n <= guns.length ? guns[n - 1] : undefined;
}

function onReadRealtime(p: CommandHost, f: DecodedFrame): void {
  const g = gunOf(p.guns, f.body);
  if (!mine(p, f.body) || !g) return;
  p.reply(0x13, p.realtimeBody(g), f.seq);
  p.scheduleRealtime(g);
}

function onRemoteStart(p: CommandHost, f: DecodedFrame, parallel: boolean): void {
  const b = f.body;
  const tradeNo = String(b.tradeNo);
  const g = gunOf(p.guns, b);
  const gunNo = typeof b.gunNo === 'number' ? b.gunNo : 0;
  let par: PendingStart['parallel'];
  if (parallel) {
    const parallelNo = String(b.parallelNo);
    const partner = p.guns.some((x) => x !== g && (x.session?.parallelNo === parallelNo || x.pendingStart?.parallel?.parallelNo === parallelNo));
    par = { parallelNo, mainAux: partner ? 1 : 0 };
  }
  const type = parallel ? 0xa3 : 0x33;
  const answer = (result: number, reason: number) => p.reply(type, startReplyBody(p.pileNo, gunNo, { tradeNo, parallel: par }, result, reason), f.seq);
  if (!mine(p, b)) return answer(0, 1);
  if (!g) return answer(0, 3);
  if (g.session || (g.pendingStart && g.pendingStart.tradeNo !== tradeNo) || g.cardWait) return answer(0, 2);
  if (g.faultBits || p.disabled) return answer(0, 3);
  if (!p.tariff) return answer(0, 4);
  const balanceCents = Math.round(Number(b.balance) * 100);
  const ps: PendingStart = {
    tradeNo,
    seq: f.seq,
    logicalCardNo: String(b.logicalCardNo),
    physicalCardNo: normCard(b.physicalCardNo) ?? '0000000000000000',
    balanceCents,
    parallel: par,
  };
  if (!(balanceCents > 0)) {
    // Start attempted and failed: the record still goes out, with the start-failure reason (§8.6).
    answer(0, 0);
    p.failedStartRecord(g, ps, STOP.NO_BALANCE_AT_START);
    return;
  }
  if (!g.plugged) {
    answer(0, 5);
    g.pendingStart = ps;
    p.timers.set(`late:${g.no}`, p.timing.latePlugWindowMs, () => {
      if (g.pendingStart !== ps) return;
      g.pendingStart = null;
      p.emit('session', { event: 'expired', gunNo: g.no, tradeNo, reason: 'gun not plugged in within the window' });
    });
    return;
  }
  answer(1, 0);
  p.beginSession(g, { tradeNo, startType: 1, logicalCardNo: ps.logicalCardNo, physicalCardNo: ps.physicalCardNo, balance: balanceCents * 100, parallelNo: par?.parallelNo });
}

function onRemoteStop(p: CommandHost, f: DecodedFrame): void {
  const b = f.body;
  const gunNo = typeof b.gunNo === 'number' ? b.gunNo : 0;
  const answer = (result: number, reason: number) => p.reply(0x35, { pileNo: p.pileNo, gunNo, result, failReason: reason }, f.seq);
  if (!mine(p, b)) return answer(0, 1);
  const g = gunOf(p.guns, b);
  if (!g) return answer(0, 3);
  if (!g.session) {
    if (g.pendingStart) {
      g.pendingStart = null;
      p.timers.clear(`late:${g.no}`);
    }
    return answer(0, 2);
  }
  answer(1, 0);
  p.endSession(g, STOP.APP);
}

function onBalanceUpdate(p: CommandHost, f: DecodedFrame): void {
  const b = f.body;
  const card = normCard(b.physicalCardNo) ?? '0000000000000000';
  const answer = (result: number) => p.reply(0x41, { pileNo: p.pileNo, physicalCardNo: card, result }, f.seq);
  if (!mine(p, b)) return answer(1);
  const g = gunOf(p.guns, b);
  const s = g?.session;
  const anyCard = card === '0000000000000000';
  if (!s) return answer(anyCard ? 0 : 2);
  if (!anyCard && s.physicalCardNo !== card) return answer(2);
  s.balance = Math.round(Number(b.balance) * 100) * 100;
  answer(0);
  p.checkLimits(g!);
}

function onCardSync(p: CommandHost, f: DecodedFrame): void {
  const b = f.body;
  if (!mine(p, b)) return p.reply(0x43, { pileNo: p.pileNo, result: 0, failReason: 1 }, f.seq);
  const r = p.cards.sync(Array.isArray(b.cards) ? (b.cards as Body[]) : []);
  p.reply(0x43, { pileNo: p.pileNo, ...r }, f.seq);
}

function onCardClear(p: CommandHost, f: DecodedFrame): void {
  const b = f.body;
  const list = Array.isArray(b.cards) ? (b.cards as Body[]) : [];
  const items = mine(p, b)
    ? list.map((c) => p.cards.clear(c.physicalCardNo))
    : list.map((c) => ({ physicalCardNo: String(c.physicalCardNo), result: 0, failReason: 1 }));
  p.reply(0x45, { pileNo: p.pileNo, cards: items }, f.seq);
}

function onCardQuery(p: CommandHost, f: DecodedFrame): void {
  const b = f.body;
  const list = Array.isArray(b.cards) ? (b.cards as Body[]) : [];
  const items = list.map((c) => ({ physicalCardNo: String(c.physicalCardNo), result: mine(p, b) && p.cards.has(c.physicalCardNo) ? 1 : 0 }));
  p.reply(0x47, { pileNo: p.pileNo, cards: items }, f.seq);
}

function onWorkParams(p: CommandHost, f: DecodedFrame): void {
  const b = f.body;
  const pct = Number(b.maxPowerPercent);
  const ok = mine(p, b) && (b.workState === 0 || b.workState === 1) && pct >= 30 && pct <= 100;
  if (ok) {
    p.disabled = b.workState === 1;
    for (const g of p.guns) if (g.session) p.accrue(g);
    p.maxPowerPercent = pct;
    for (const g of p.guns) if (g.session) {
      g.session.watts = p.gunWatts(g);
      p.checkLimits(g);
    }
  }
  p.reply(0x51, { pileNo: p.pileNo, result: ok ? 1 : 0 }, f.seq);
  if (ok) p.emitState();
}

function onTimeSync(p: CommandHost, f: DecodedFrame): void {
  const b = f.body;
  if (mine(p, b)) {
    const t = parseWallTime(b.time);
    if (t) {
      for (const g of p.guns) if (g.session) p.accrue(g);
      p.wallOffset = instantOf(t).getTime() - p.clock.now();
    } else {
      p.fail(new YkcError('YKC_FIELD', `pile ${p.pileNo}: time sync with an unusable time ${JSON.stringify(b.time)}`, { field: 'time', value: b.time }));
    }
  }
  p.reply(0x55, { pileNo: p.pileNo, time: b.time }, f.seq);
}

function onTariffPush(p: CommandHost, f: DecodedFrame): void {
  const ok = mine(p, f.body) && p.acceptModel(f.body);
  p.reply(0x57, { pileNo: p.pileNo, result: ok ? 1 : 0 }, f.seq);
}

function onLockCommand(p: CommandHost, f: DecodedFrame): void {
  const b = f.body;
  const g = gunOf(p.guns, b);
  const gunNo = typeof b.gunNo === 'number' ? b.gunNo : 0;
  if (!mine(p, b) || !g || (b.action !== 0x55 && b.action !== 0xff)) {
    return p.reply(0x63, { pileNo: p.pileNo, gunNo, result: 0 }, f.seq);
  }
  // A lock cannot rise under a parked car: it fails and raises its "did not reach position" alarm.
  const blocked = b.action === 0x55 && g.plugged;
  if (blocked) g.lock.alarm = 0x55;
  else g.lock = { state: b.action, alarm: 0 };
  p.reply(0x63, { pileNo: p.pileNo, gunNo, result: blocked ? 0 : 1 }, f.seq);
  p.originate(0x61, {
    pileNo: p.pileNo,
    gunNo,
    lockState: g.lock.state,
    parkingState: g.plugged ? 0xff : 0,
    lockBattery: 100,
    alarm: g.lock.alarm,
  });
}

function onReboot(p: CommandHost, f: DecodedFrame): void {
  const b = f.body;
  const ok = mine(p, b) && (b.runWhen === 1 || b.runWhen === 2);
  p.reply(0x91, { pileNo: p.pileNo, result: ok ? 1 : 0 }, f.seq);
  if (!ok) return;
  if (b.runWhen === 2 && p.guns.some((g) => g.session)) p.rebootWhenIdle = true;
  else p.reboot();
}

function onOta(p: CommandHost, f: DecodedFrame): void {
  const b = f.body;
  if (!mine(p, b)) return p.reply(0x93, { pileNo: p.pileNo, status: 1 }, f.seq);
  if (b.pileModel !== (p.pileType === 'DC' ? 1 : 2)) return p.reply(0x93, { pileNo: p.pileNo, status: 2 }, f.seq);
  const forced = p.opts.otaResult;
  const outcome: Promise<OtaOutcome> =
    forced !== undefined
      ? Promise.resolve({ status: forced, firmware: p.opts.otaFirmware })
      : downloadUpdate(b, { expect: p.opts.otaExpect, firmware: p.opts.otaFirmware, fileName: p.opts.otaFileName });
  const link = p.link;
  void outcome.then((o) => {
    // The pile may have rebooted, been closed or reconnected while it was downloading.
    if (p.link !== link || p.state !== 'online') return;
    p.reply(0x93, { pileNo: p.pileNo, status: o.status }, f.seq);
    const firmwareBefore = p.firmware;
    if (o.status === 0 && o.firmware) p.firmware = o.firmware;
    p.emit('ota', { ...o, ftpHost: String(b.ftpHost), ftpPath: String(b.ftpPath), firmwareBefore });
    if (o.status !== 0) return;
    if (b.runWhen === 2 && p.guns.some((g) => g.session)) p.rebootWhenIdle = true;
    else p.reboot();
  });
}
