/**
 * Gateway metrics: a JSON snapshot (for ykc-in / dashboards) and the Prometheus text format
 * (for the optional /ykc/metrics endpoint). Counters only ever grow; gauges are current values.
 */
import type { Counters } from './server';

export interface MetricsSnapshot {
  at: number;
  gauges: {
    connections: number;
    pilesOnline: number;
    recordsPending: number;
    requestsPending: number;
    /** Connections accepted and waiting for admission (admitPerSecond). */
    admissionQueue: number;
  };
  counters: Counters;
  commandLatencyMs: { count: number; p50: number | null; p99: number | null; max: number | null };
}

/** Keeps the last `size` round-trip times to report percentiles without unbounded memory. */
export class LatencyWindow {
  private readonly buf: Float64Array;
  private n = 0;
  private i = 0;

  constructor(size = 1024) {
    this.buf = new Float64Array(size);
  }

  add(ms: number): void {
    this.buf[this.i] = ms;
    this.i = (this.i + 1) % this.buf.length;
    if (this.n < this.buf.length) this.n++;
  }

  summary(): MetricsSnapshot['commandLatencyMs'] {
    if (!this.n) return { count: 0, p50: null, p99: null, max: null };
    const a = Array.from(this.buf.subarray(0, this.n)).sort((x, y) => x - y);
    const at = (p: number) => a[Math.min(a.length - 1, Math.floor((a.length * p) / 100))];
    return { count: this.n, p50: at(50), p99: at(99), max: a[a.length - 1] };
  }
}

const esc = (v: string) => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');

/** Prometheus exposition text for several servers, labelled by server id. */
export function toPrometheus(snaps: Array<{ server: string; snap: MetricsSnapshot }>): string {
  const lines: string[] = [];
  const metric = (name: string, type: 'counter' | 'gauge', help: string, rows: Array<[Record<string, string>, number]>) => {
    lines.push(`# HELP ykc_${name} ${help}`, `# TYPE ykc_${name} ${type}`);
    for (const [labels, v] of rows) {
      const l = Object.entries(labels).map(([k, x]) => `${k}="${esc(x)}"`).join(',');
      lines.push(`ykc_${name}{${l}} ${v}`);
    }
  };
  const each = (f: (s: MetricsSnapshot) => number) => snaps.map(({ server, snap }) => [{ server }, f(snap)] as [Record<string, string>, number]);
  metric('piles_online', 'gauge', 'Piles logged in.', each((s) => s.gauges.pilesOnline));
  metric('connections', 'gauge', 'Open TCP connections.', each((s) => s.gauges.connections));
  metric('records_pending', 'gauge', 'Transaction records waiting for confirmation.', each((s) => s.gauges.recordsPending));
  metric('requests_pending', 'gauge', 'Commands waiting for a pile reply.', each((s) => s.gauges.requestsPending));
  metric('admission_queue', 'gauge', 'Connections waiting for admission (admitPerSecond).', each((s) => s.gauges.admissionQueue));
  const counters: Array<[keyof Counters, string]> = [
    ['connections', 'Connections accepted.'],
    ['connectionsRefused', 'Connections refused (limits, closing).'],
    ['admissionsDeferred', 'Connections that waited for admission (admitPerSecond).'],
    ['takeoversRefused', 'Logins refused: the pile was online and alive elsewhere (takeover refuse-while-alive).'],
    ['rateLimitedConnections', 'Connections slowed for going over maxFramesPerSecond / maxBytesPerSecond.'],
    ['pilesForgotten', 'Offline piles whose per-pile state was dropped.'],
    ['loginsAccepted', 'Logins accepted.'],
    ['loginsRefused', 'Logins refused.'],
    ['replaced', 'Connections replaced by a new login of the same pile.'],
    ['offline', 'Piles gone offline.'],
    ['crcErrors', 'Frames with a CRC mismatch.'],
    ['hiFirstCrcFrames', 'Frames whose CRC was sent high byte first.'],
    ['framingErrors', 'Framing errors (garbage, impossible headers).'],
    ['garbageBytes', 'Bytes dropped as garbage.'],
    ['decodeErrors', 'Frames that framed but did not decode.'],
    ['framesBeforeLogin', 'Frames received before a successful login.'],
    ['commands', 'Commands sent.'],
    ['commandTimeouts', 'Commands without an answer in time.'],
    ['commandFailures', 'Commands whose connection closed first.'],
    ['recordsReceived', 'Transaction records received (with resends).'],
    ['recordsConfirmed', 'Transaction records acknowledged as received.'],
    ['recordsRefused', 'Transaction records refused (0x40 result 1).'],
    ['recordsDuplicate', 'Resent transaction records recognised.'],
    ['recordsExpired', 'Record holds that expired unconfirmed.'],
    ['recordsForeign', 'Transaction records refused because their body names another pile.'],
    ['recordsOverLimit', 'Transaction records neither acknowledged nor emitted: too many held (maxHeldRecordsPerPile, maxHeldRecords).'],
  ];
  for (const [k, help] of counters) {
    const name = k.replace(/[A-Z]/g, (c) => '_' + c.toLowerCase());
    metric(`${name}_total`, 'counter', help, each((s) => s.counters[k] as number));
  }
  const byType = (dir: 'in' | 'out') => {
    const rows: Array<[Record<string, string>, number]> = [];
    for (const { server, snap } of snaps) {
      const m = dir === 'in' ? snap.counters.framesInByType : snap.counters.framesOutByType;
      for (const [type, v] of Object.entries(m)) rows.push([{ server, type }, v]);
    }
    metric(`frames_${dir}_total`, 'counter', `Frames ${dir === 'in' ? 'received' : 'sent'} by type.`, rows);
  };
  byType('in');
  byType('out');
  metric('command_latency_p99_ms', 'gauge', 'Command round trip, 99th percentile of the last 1024.', each((s) => s.commandLatencyMs.p99 ?? 0));
  return lines.join('\n') + '\n';
}
