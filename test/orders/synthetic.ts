/** Gateway events made by hand (the shapes of src/gateway/server.ts), for feeding an OrderTracker directly. */
import type { Arrival, FrameEvent, RecordEvent } from '../../src/gateway';

export function frameEv(pileNo: string, type: number, body: Record<string, unknown>, seq = 0): FrameEvent {
  return {
    sessionId: 1, pileNo, remote: 'synthetic', loggedIn: true, version: '1.5', receivedAt: 0,
    frame: { type, name: '', seq, encrypted: false, crcOrder: 'lo-first', body: { pileNo, ...body } } as unknown as FrameEvent['frame'],
  };
}

export function recordEv(pileNo: string, body: Record<string, unknown>, arrival: Arrival = 'new', held = false): RecordEvent {
  return { ...frameEv(pileNo, 0x3b, body), arrival, held, id: '0123456789abcdef' };
}

/** 0x13 with the decoded units (kWh, yuan). */
export function realtime(pileNo: string, gunNo: number, tradeNo: string, charging: boolean, energyKwh = 0, amountYuan = 0): FrameEvent {
  return frameEv(pileNo, 0x13, { gunNo, tradeNo: charging ? tradeNo : '0'.repeat(32), gunState: charging ? 3 : 2, gunPlugged: 1, chargedEnergy: energyKwh, chargedAmount: amountYuan });
}

export function record(pileNo: string, gunNo: number, tradeNo: string, energyKwh: number, start = '2026-12-05 08:00:00', end = '2026-12-05 09:00:00'): Record<string, unknown> {
  return {
    tradeNo, gunNo, startTime: start, endTime: end, meterStart: 1000, meterEnd: 1000 + energyKwh, totalEnergy: energyKwh, totalAmount: energyKwh * 1.2,
    startType: 1, startTypeName: 'app', stopReason: 0x40, stopReasonName: 'remote stop', physicalCardNo: '0000000000000001', vin: '',
  };
}
