/**
 * ykc-time-sync: time sync 0x56 → the pile's 0x55 echo (docs/protocol.md §5.4). Sends the server clock
 * as wall time in the configured zone (default Asia/Shanghai, UTC+8: the protocol has no zone
 * field and piles keep China time), or a given time.
 */
import type { Node, NodeAPI, NodeMessageInFlow } from 'node-red';
import { formatWallTime, WallTime } from '../src/protocol';
import { alwaysAccepted, CommandDef, CommandRunner, present, requestExchange, serverOf, zoneClock } from './shared/command';

interface YkcTimeSyncDef extends CommandDef {
  /** "now" (server clock) or "given" (the time property). */
  mode?: 'now' | 'given';
  /** Wall time "YYYY-MM-DD HH:mm:ss" for mode "given". */
  time?: string;
  /** IANA zone ("Asia/Shanghai") or a fixed offset ("+08:00", "UTC"). Default Asia/Shanghai. */
  tz?: string;
}

const ZONED = /(Z|[+-]\d{2}:?\d{2})$/;

export = function (RED: NodeAPI): void {
  function YkcTimeSyncNode(this: Node, config: YkcTimeSyncDef) {
    RED.nodes.createNode(this, config);
    const node = this;
    const runner = new CommandRunner(RED, node, config, serverOf(RED, config), { type: 'ykc-time-sync', outputs: 3 });
    let clock: ((d: Date) => WallTime) | null = null;
    try {
      clock = zoneClock(config.tz ?? '');
    } catch {
      node.status({ fill: 'red', shape: 'ring', text: RED._('ykc-time-sync.status.badZone') });
      node.error(RED._('ykc-time-sync.errors.badZone', { tz: String(config.tz) }));
    }

    /** The time to send: msg.payload.time, else the configured time (mode "given"), else now. */
    function timeFor(given: unknown): string {
      if (!clock) throw runner.fieldError('badZone', { tz: String(config.tz) });
      const c = clock;
      const v = present(given) && given !== 'now' ? given : config.mode === 'given' && present(config.time) ? config.time : 'now';
      if (v === 'now') return formatWallTime(c(new Date()));
      // Instants (epoch ms, Date, ISO text with a zone) are shown in the node's zone; wall times go as given.
      if (typeof v === 'number' || v instanceof Date) {
        const d = new Date(v as number | Date);
        if (isNaN(d.getTime())) throw runner.fieldError('badTime', { time: String(v) });
        return formatWallTime(c(d));
      }
      if (typeof v === 'string' && ZONED.test(v.trim())) {
        const d = new Date(v.trim());
        if (isNaN(d.getTime())) throw runner.fieldError('badTime', { time: v });
        return formatWallTime(c(d));
      }
      if (typeof v === 'string') return v.trim();
      throw runner.fieldError('badTime', { time: JSON.stringify(v) });
    }

    node.on('input', (msg: NodeMessageInFlow, send, done) => {
      void runner.handle(msg, send, done, (m) => {
        const pileNo = runner.pile(m);
        const time = timeFor(runner.fields(m, {}).time);
        const exchange = requestExchange({ type: 0x56, body: { pileNo, time }, judge: alwaysAccepted, ids: { sentTime: time } });
        return { plans: [{ pileNo, exchange }], multi: false };
      });
    });
  }
  RED.nodes.registerType('ykc-time-sync', YkcTimeSyncNode);
};
