/**
 * One listener per gateway event, fanned out to the nodes that use the server. With one listener
 * per node per event, a flow with eleven nodes on one ykc-server passed Node's default limit of ten
 * and printed MaxListenersExceededWarning at every deploy. Here the config node listens once per
 * event, only while some node wants it (the gateway builds `sent` events only when listened to),
 * and a node whose handler throws cannot keep the event from the others or from the gateway.
 */
import type { EventEmitter } from 'events';
import type { ServerEvents } from '../../src/gateway';

type Handler<K extends keyof ServerEvents> = (...args: ServerEvents[K]) => void;

export class GatewayEvents {
  private readonly subs = new Map<keyof ServerEvents, Set<(...args: unknown[]) => void>>();
  private readonly relays = new Map<keyof ServerEvents, (...args: unknown[]) => void>();

  constructor(
    private readonly source: EventEmitter<ServerEvents>,
    /** Where a handler's exception goes (the server node reports it). */
    private readonly failed: (e: unknown) => void,
  ) {}

  /** Subscribes; returns the unsubscribe function. */
  on<K extends keyof ServerEvents>(event: K, fn: Handler<K>): () => void {
    let set = this.subs.get(event);
    if (!set) {
      const handlers = new Set<(...args: unknown[]) => void>();
      set = handlers;
      this.subs.set(event, handlers);
      const relay = (...args: unknown[]) => {
        for (const h of handlers) {
          try {
            h(...args);
          } catch (e) {
            this.failed(e);
          }
        }
      };
      this.relays.set(event, relay);
      (this.source as unknown as EventEmitter).on(event, relay);
    }
    set.add(fn as (...args: unknown[]) => void);
    return () => this.off(event, fn);
  }

  off<K extends keyof ServerEvents>(event: K, fn: Handler<K>): void {
    const set = this.subs.get(event);
    if (!set) return;
    set.delete(fn as (...args: unknown[]) => void);
    if (set.size) return;
    this.subs.delete(event);
    const relay = this.relays.get(event);
    this.relays.delete(event);
    if (relay) (this.source as unknown as EventEmitter).off(event, relay);
  }

  /** Subscribers of an event (tests, diagnostics). */
  count(event: keyof ServerEvents): number {
    return this.subs.get(event)?.size ?? 0;
  }
}
