/**
 * ykc-tariff: billing-model push 0x58 → the pile's 0x57 (docs/protocol.md §5.1, §7, §8.3).
 *
 * The model comes from the dialog (model code, 4 levels of electricity + service price, the 48
 * half-hour slots painted on a grid) with msg.payload's fields over it (a decoded 0x58 body is valid
 * input), or wholly from msg.payload in the friendlier { modelCode, levels, slots | periods } shape.
 * It is validated by src/billing/tariff.ts before anything is sent. Targets: one pile, a list, or
 * "*" (every pile online now: one msg per pile). A pile that accepts gets the model stored as its
 * tariff in the gateway, so its next 0x05 check / 0x09 request is answered with it.
 */
import type { Node, NodeAPI, NodeMessage, NodeMessageInFlow } from 'node-red';
import { Tariff } from '../src/billing/tariff';
import { slotsOf, tariffFormBody, TariffFormDef } from './shared/tariff-form';
import { asFieldError, CommandDef, CommandRunner, Exchange, numeric, payloadOf, Plans, requestExchange, resultJudge, serverOf } from './shared/command';

interface YkcTariffDef extends CommandDef, TariffFormDef {
  /** Also make the model the server's default (piles without their own tariff, later logins). */
  setDefault?: boolean;
}

export = function (RED: NodeAPI): void {
  function YkcTariffNode(this: Node, config: YkcTariffDef) {
    RED.nodes.createNode(this, config);
    const node = this;
    const runner = new CommandRunner(RED, node, config, serverOf(RED, config), { type: 'ykc-tariff', outputs: 3 });
    const judge = resultJudge({ ok: 1, table: 'result' });

    const configured = tariffFormBody(config);

    /** The model to send: the friendlier shape in msg.payload wins whole; otherwise payload fields over the dialog's. */
    function tariffOf(msg: NodeMessage): Tariff {
      const p = payloadOf(msg);
      try {
        if (p.levels !== undefined || p.periods !== undefined) return Tariff.fromInput({ ...p, slots: slotsOf(p.slots) } as never);
        const f = runner.fields(msg, configured);
        return Tariff.fromBody({ ...f, lossRatio: numeric(f.lossRatio), slots: slotsOf(f.slots) });
      } catch (e) {
        throw asFieldError(e);
      }
    }

    function exchangeFor(tariff: Tariff, pileNo: string): Exchange {
      const inner = requestExchange({ type: 0x58, body: tariff.toBody(pileNo) as unknown as Record<string, unknown>, judge, ids: { modelCode: tariff.modelCode } });
      return {
        ...inner,
        async run(ctx) {
          const answer = await inner.run(ctx);
          if (answer.accepted) ctx.gw.setTariff(pileNo, tariff.toBody());
          return answer;
        },
      };
    }

    node.on('input', (msg: NodeMessageInFlow, send, done) => {
      void runner.handle(msg, send, done, (m): Plans => {
        const tariff = tariffOf(m);
        const { piles, multi } = runner.piles(m);
        const plans = piles.map((pileNo) => ({ pileNo, exchange: exchangeFor(tariff, pileNo) }));
        if (config.setDefault) runner.gateway().setTariff(null, tariff.toBody());
        return { plans, multi };
      });
    });
  }
  RED.nodes.registerType('ykc-tariff', YkcTariffNode);
};
