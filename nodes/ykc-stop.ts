/**
 * ykc-stop: remote stop 0x36 → the pile's 0x35 (docs/protocol.md §5.3, §8.4 rule 6). Accepted when the
 * pile answers "stopped"; refused with its reason (pile number mismatch, gun not charging, other).
 */
import type { Node, NodeAPI, NodeMessageInFlow } from 'node-red';
import { CommandDef, CommandRunner, requestExchange, resultJudge, serverOf } from './shared/command';

export = function (RED: NodeAPI): void {
  function YkcStopNode(this: Node, config: CommandDef) {
    RED.nodes.createNode(this, config);
    const node = this;
    const runner = new CommandRunner(RED, node, config, serverOf(RED, config), { type: 'ykc-stop', outputs: 3 });
    const judge = resultJudge({ ok: 1, reasonField: 'failReason', table: 'stopFail' });

    node.on('input', (msg: NodeMessageInFlow, send, done) => {
      void runner.handle(msg, send, done, (m) => {
        const pileNo = runner.pile(m);
        const gunNo = runner.gun(m);
        const exchange = requestExchange({ type: 0x36, body: { pileNo, gunNo }, judge, ids: { gunNo } });
        return { plans: [{ pileNo, exchange }], multi: false };
      });
    });
  }
  RED.nodes.registerType('ykc-stop', YkcStopNode);
};
