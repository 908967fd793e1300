/**
 * Hostile review (issue 11): ykc-confirm must use the pile the msg names whatever digits its number
 * has. BCD pile numbers may carry A–F nibbles (the gateway logs such piles in); two such piles with
 * records under the all-zero trade number, and a flow confirming from its database row (pile and trade
 * number, no record id): each confirmation must reach its own pile, not fail as ambiguous.
 * Piles are raw sockets (hand-built bytes, own CRC).
 */
import should from 'should';
import helper = require('node-red-node-test-helper');
import type { YkcServerNode } from '../../nodes/shared/server-node';
import { ack, recordBody, recordFrame, ZERO_TRADE } from '../support/record-piles';
import { rawFrame } from '../support/raw';
import { RawPile } from '../support/raw-pile';

/* eslint-disable @typescript-eslint/no-require-imports */
const NODES = [require('../../nodes/ykc-server'), require('../../nodes/ykc-confirm')];
/* eslint-enable @typescript-eslint/no-require-imports */
helper.init(require.resolve('node-red'));

const A = '3201020000000A';
const B = '3201020000000B';

describe('adversarial: ykc-confirm with pile numbers carrying A–F digits', function () {
  this.timeout(15_000);
  const piles: RawPile[] = [];
  afterEach(async () => {
    for (const p of piles.splice(0)) p.close();
    await helper.unload();
  });

  it("confirms each pile's all-zero-trade record by the pile named in msg.ykc.pileNo", async () => {
    await helper.load(NODES as never, [
      { id: 's1', type: 'ykc-server', host: '127.0.0.1', port: 0, recordConfirm: 'after-store', persist: false },
      { id: 'cf', type: 'ykc-confirm', server: 's1', wires: [['out']] },
      { id: 'out', type: 'helper' },
      { id: 'hc', type: 'catch', scope: ['cf'], wires: [['caught']] },
      { id: 'caught', type: 'helper' },
    ] as never);
    const s = helper.getNode('s1') as unknown as YkcServerNode;
    await s.ready;
    const held: string[] = [];
    s.gateway!.on('record', (e) => held.push(e.pileNo!));
    const on = async (pileNo: string) => {
      const p = await RawPile.connect(s.port()!);
      piles.push(p);
      p.write(rawFrame(0x01, `${pileNo}00010F${Buffer.from('HEXPILE1').toString('hex')}01${'00'.repeat(10)}04`, '0000'));
      for (;;) if ((await p.next(5000)).type === 0x02) return p;
    };
    const a = await on(A);
    const b = await on(B);
    a.write(recordFrame(recordBody({ trade: ZERO_TRADE, pile: A }), '0100'));
    b.write(recordFrame(recordBody({ trade: ZERO_TRADE, pile: B }), '0200'));
    for (let i = 0; i < 100 && held.length < 2; i++) await new Promise((r) => setTimeout(r, 20));
    should(held.sort()).eql([A, B]);
    const errors: unknown[] = [];
    (helper.getNode('caught') as unknown as NodeJS.EventEmitter).on('input', (m: unknown) => errors.push(m));
    const outs: Array<{ ykc: { confirmed: unknown } }> = [];
    (helper.getNode('out') as unknown as NodeJS.EventEmitter).on('input', (m: { ykc: { confirmed: unknown } }) => outs.push(m));
    helper.getNode('cf').receive({ payload: { tradeNo: ZERO_TRADE }, ykc: { pileNo: B } } as never);
    for (let i = 0; i < 100 && !outs.length && !errors.length; i++) await new Promise((r) => setTimeout(r, 20));
    should(errors).eql([]);
    should(outs[0].ykc.confirmed).eql({ result: 0, sent: true });
    should(ack(await b.next())).eql({ tradeNo: ZERO_TRADE, result: 0, seq: '0200' });
  });
});
