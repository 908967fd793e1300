/**
 * ykc-reboot: remote reboot 0x92 → the pile's 0x91 (docs/protocol.md §5.6): now (1) or when idle (2).
 */
import type { Node, NodeAPI, NodeMessageInFlow } from 'node-red';
import { CommandDef, CommandRunner, requestExchange, resultJudge, serverOf } from './shared/command';

interface YkcRebootDef extends CommandDef {
  /** 1 now, 2 when idle (names "now" / "when idle" accepted too). */
  runWhen?: string | number;
}

export = function (RED: NodeAPI): void {
  function YkcRebootNode(this: Node, config: YkcRebootDef) {
    RED.nodes.createNode(this, config);
    const node = this;
    const runner = new CommandRunner(RED, node, config, serverOf(RED, config), { type: 'ykc-reboot', outputs: 3 });
    const judge = resultJudge({ ok: 1, table: 'result' });

    node.on('input', (msg: NodeMessageInFlow, send, done) => {
      void runner.handle(msg, send, done, (m) => {
        const pileNo = runner.pile(m);
        const f = runner.fields(m, { runWhen: config.runWhen === undefined || config.runWhen === '' ? 1 : Number(config.runWhen) });
        const runWhen = typeof f.runWhen === 'string' && /^\d+$/.test(f.runWhen) ? Number(f.runWhen) : f.runWhen;
        if (runWhen !== 1 && runWhen !== 2 && runWhen !== 'now' && runWhen !== 'when idle') throw runner.fieldError('badRunWhen', { runWhen: String(f.runWhen) });
        const exchange = requestExchange({ type: 0x92, body: { pileNo, runWhen }, judge });
        return { plans: [{ pileNo, exchange }], multi: false };
      });
    });
  }
  RED.nodes.registerType('ykc-reboot', YkcRebootNode);
};
