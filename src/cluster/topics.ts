/**
 * Topic names and payloads of a cluster (docs/cluster.md lists them for people reading a broker).
 * Everything is plain JSON, so any MQTT client can watch or debug a cluster.
 */

/** One instance's liveness, retained on `<cluster>/instances/<id>`; cleared (empty) by its will or close. */
export interface InstanceRecord {
  instance: string;
  /** Wall time this connection to the broker started: claims made over an older one are stale. */
  epoch: number;
  host: string;
  /** Some ykc-in on this instance asks for every instance's events. */
  events: boolean;
  /** Piles whose events this instance follows (ykc-start waiting for charging on a pile held elsewhere). */
  watch?: string[];
  v5: boolean;
}

/** Who holds a pile, retained on `<cluster>/piles/<pileNo>`; cleared (empty) when its holder loses it. */
export interface PileClaim {
  instance: string;
  /** The holder's InstanceRecord.epoch when it claimed: valid only while that record is. */
  epoch: number;
  remote: string;
  version: string | null;
  /** When the pile logged in there (wall ms): of two holders, the newer login wins. */
  since: number;
}

/** A command for a pile, on `<cluster>/cmd/<instance>`. */
export interface CommandMessage {
  /** "request" (default): send frame, reply with the answer; "confirm": acknowledge record tradeNo, no reply. */
  op?: 'request' | 'confirm';
  tradeNo?: string;
  ok?: boolean;
  /** The record's content id (RecordEvent.id), when the confirming flow had it. */
  recordId?: string;
  id: string;
  from: string;
  pileNo: string;
  frame: { type?: number | string; name?: string; body?: Record<string, unknown> };
  timeoutMs: number;
  /** v3.1.1 fallback; with v5 the response topic and correlation data properties say the same. */
  replyTo: string;
}

/** Its answer, on the caller's reply topic. */
export interface ReplyMessage {
  id: string;
  from: string;
  ok: boolean;
  frame?: unknown;
  error?: { code: string; message: string; details?: Record<string, unknown> };
}

export type EventKind = 'frame' | 'record' | 'online' | 'offline' | 'gunState';

export class Topics {
  constructor(readonly cluster: string) {}
  instance(id: string): string {
    return `${this.cluster}/instances/${id}`;
  }
  get instances(): string {
    return `${this.cluster}/instances/+`;
  }
  pile(pileNo: string): string {
    return `${this.cluster}/piles/${pileNo}`;
  }
  get piles(): string {
    return `${this.cluster}/piles/+`;
  }
  cmd(id: string): string {
    return `${this.cluster}/cmd/${id}`;
  }
  reply(id: string): string {
    return `${this.cluster}/reply/${id}`;
  }
  event(pileNo: string, kind: EventKind): string {
    return `${this.cluster}/events/${pileNo}/${kind}`;
  }
  get events(): string {
    return `${this.cluster}/events/#`;
  }
  /** [kind, id or pileNo, rest] of a topic under this cluster, or null. */
  parse(topic: string): { kind: string; key: string; rest: string[] } | null {
    if (!topic.startsWith(this.cluster + '/')) return null;
    const parts = topic.slice(this.cluster.length + 1).split('/');
    if (parts.length < 2) return null;
    return { kind: parts[0], key: parts[1], rest: parts.slice(2) };
  }
}

/** Names that are safe as one MQTT topic level (no wildcards, no separators). */
export const TOPIC_LEVEL = /^[A-Za-z0-9_.:-]{1,64}$/;
/** A cluster name may have several levels ("site1/ykc"). */
export const CLUSTER_NAME = /^[A-Za-z0-9_.:-]{1,64}(\/[A-Za-z0-9_.:-]{1,64}){0,3}$/;

export function parseJson<T>(buf: Buffer): T | null {
  if (!buf.length) return null;
  try {
    const v = JSON.parse(buf.toString('utf8')) as unknown;
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as T) : null;
  } catch {
    return null;
  }
}
