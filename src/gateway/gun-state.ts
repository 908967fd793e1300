/**
 * The 7-state gun model operators know, derived from heartbeats, 0x13 state and plug, start
 * replies, records and connectivity: 0 offline, 1 idle-unplugged, 2 idle-plugged, 3 charging,
 * 4 full, 5 fault, 6 ready (start accepted, not yet charging).
 */
import { DecodedFrame } from '../protocol';

export const GUN_STATE_NAMES = ['offline', 'idle-unplugged', 'idle-plugged', 'charging', 'full', 'fault', 'ready'] as const;
export type GunStateCode = 0 | 1 | 2 | 3 | 4 | 5 | 6;

export interface GunStateChange {
  pileNo: string;
  gunNo: number;
  state: GunStateCode;
  stateName: (typeof GUN_STATE_NAMES)[number];
  previous: GunStateCode | null;
  previousName: (typeof GUN_STATE_NAMES)[number] | null;
  tradeNo?: string;
}

interface Gun {
  state: GunStateCode;
  plugged: boolean;
  full: boolean;
  tradeNo?: string;
}

const SOC_FULL = 0x41;

export class GunStateTracker {
  private readonly piles = new Map<string, Map<number, Gun>>();

  constructor(private readonly emit: (c: GunStateChange) => void) {}

  private gun(pileNo: string, gunNo: number): Gun {
    let guns = this.piles.get(pileNo);
    if (!guns) this.piles.set(pileNo, (guns = new Map()));
    let g = guns.get(gunNo);
    if (!g) guns.set(gunNo, (g = { state: 0, plugged: false, full: false }));
    return g;
  }

  private set(pileNo: string, gunNo: number, g: Gun, state: GunStateCode, known: boolean): void {
    const previous = known ? g.state : null;
    if (known && previous === state) return;
    g.state = state;
    this.emit({
      pileNo,
      gunNo,
      state,
      stateName: GUN_STATE_NAMES[state],
      previous,
      previousName: previous === null ? null : GUN_STATE_NAMES[previous],
      ...(g.tradeNo ? { tradeNo: g.tradeNo } : {}),
    });
  }

  /** Feed every frame from a logged-in pile. */
  onFrame(pileNo: string, f: DecodedFrame): void {
    const b = f.body;
    const gunNo = typeof b.gunNo === 'number' ? b.gunNo : null;
    if (gunNo === null) return;
    const guns = this.piles.get(pileNo);
    const known = !!guns?.has(gunNo);
    const g = this.gun(pileNo, gunNo);
    switch (f.type) {
      case 0x03:
        if (b.gunState === 1) this.set(pileNo, gunNo, g, 5, known);
        else if (!known || g.state === 5 || g.state === 0) this.set(pileNo, gunNo, g, g.plugged ? 2 : 1, known);
        return;
      case 0x13: {
        g.plugged = b.gunPlugged === 1;
        const tn = String(b.tradeNo ?? '');
        if (/^0*$/.test(tn)) delete g.tradeNo;
        else g.tradeNo = tn;
        let s: GunStateCode;
        if (b.gunState === 0) s = 0;
        else if (b.gunState === 1) s = 5;
        else if (b.gunState === 3) {
          g.full = false;
          s = 3;
        } else if (!g.plugged) {
          g.full = false;
          s = 1;
        } else s = g.full ? 4 : g.state === 6 ? 6 : 2;
        this.set(pileNo, gunNo, g, s, known);
        return;
      }
      case 0x33:
      case 0xa3:
        if (b.result === 1) {
          if (typeof b.tradeNo === 'string') g.tradeNo = b.tradeNo;
          if (g.state !== 3) this.set(pileNo, gunNo, g, 6, known);
        }
        return;
      case 0x3b:
      case 0x3d:
      case 0x3f:
      case 0x39:
        g.full = b.stopReason === SOC_FULL;
        delete g.tradeNo;
        if (g.state === 3 || g.state === 6) this.set(pileNo, gunNo, g, g.plugged ? (g.full ? 4 : 2) : 1, known);
        return;
      default:
    }
  }

  offline(pileNo: string): void {
    const guns = this.piles.get(pileNo);
    if (!guns) return;
    for (const [gunNo, g] of guns) this.set(pileNo, gunNo, g, 0, true);
  }

  snapshot(pileNo: string): Array<{ gunNo: number; state: GunStateCode; stateName: string; plugged: boolean; tradeNo?: string }> {
    const guns = this.piles.get(pileNo);
    if (!guns) return [];
    return [...guns].map(([gunNo, g]) => ({ gunNo, state: g.state, stateName: GUN_STATE_NAMES[g.state], plugged: g.plugged, ...(g.tradeNo ? { tradeNo: g.tradeNo } : {}) }));
  }

  /** Drops a pile's guns (the server does, once the pile has been offline for good). */
  forget(pileNo: string): void {
    this.piles.delete(pileNo);
  }

  /** Piles with gun states kept (online, and offline within the retention). */
  get size(): number {
    return this.piles.size;
  }
}
