/**
 * Hostile review (issue 11.2): which tariff a record is judged against, with an independent raw pile
 * (hand-built frames, own CRC) against a real YkcServer with its history file.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import should from 'should';
import { YkcServer } from '../../src/gateway';
import { Tariff } from '../../src/billing';
import { decodeFrame, formatWallTime, wallTimeOf } from '../../src/protocol';
import { capturedModel } from '../billing/helpers';
import { recordBody } from '../support/record-piles';
import { rawFrame } from '../support/raw';
import { RawPile } from '../support/raw-pile';

const PILE = '32010200000031';
const TRADE = `${PILE}011234567890123456`.slice(0, 32);

const model = (valleyElec: number, code: string): Tariff => Tariff.fromInput(capturedModel(valleyElec, code));
const T1 = model(0.5, '0062');
const T2 = model(0.8, '0063');

const loginFrame = () => rawFrame(0x01, `${PILE}00010F${Buffer.from('TARIFF01').toString('hex')}01${'00'.repeat(10)}04`, '0000');
/** 0x13 realtime: trade, pile, gun 1, charging (3), plugged; the rest zero (docs/protocol.md 0x13). */
const realtime = (tradeNo: string, seqHex: string) => rawFrame(0x13, `${tradeNo}${PILE}01030001${'00'.repeat(33)}`, seqHex);

async function frameOf(p: RawPile, type: number) {
  for (;;) {
    const f = await p.next(5000);
    if (f.type === type) return f;
  }
}

describe('adversarial: tariff in force', function () {
  this.timeout(15_000);
  let dir: string;
  let gw: YkcServer;
  let pile: RawPile;
  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ykc-adv-tariff-'));
    gw = new YkcServer({ autoTimeSync: false, recordConfirm: 'at-once', tariffHistoryFile: path.join(dir, 't.jsonl') });
    gw.on('problem', () => {});
    gw.setTariff(null, T1.toBody());
    await gw.listen(0, '127.0.0.1');
    pile = await RawPile.connect(gw.address()!.port);
    pile.write(loginFrame());
    should((await frameOf(pile, 0x02)).body[7]).equal(0);
  });
  afterEach(async () => {
    pile.close();
    await gw.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  async function settle(seqHex: string): Promise<void> {
    pile.write(rawFrame(0x03, `${PILE}0100`, seqHex));
    await frameOf(pile, 0x04);
  }

  it('a pile that reuses a (non-zero) trade number: its next session is dated by its own first frame, not the first session’s', async () => {
    // The pile asks for its model: T1.
    pile.write(rawFrame(0x09, PILE, '0200'));
    await frameOf(pile, 0x0a);
    // Session 1 under T1: realtime, then its record.
    pile.write(realtime(TRADE, '0300'));
    const rec1 = recordBody({ trade: TRADE, pile: PILE, variant: 1 });
    pile.write(rawFrame(0x3b, rec1, '0400'));
    await frameOf(pile, 0x40);
    should(gw.sessionTariff(PILE, decodeFrame(rawFrame(0x3b, rec1, '0400')).body)!.tariff.modelCode).equal('0062');
    // T2 pushed and taken.
    const reply = gw.request(PILE, { type: 0x58, body: T2.toBody(PILE) as unknown as Record<string, unknown> });
    const push = await frameOf(pile, 0x58);
    pile.write(rawFrame(0x57, `${PILE}01`, push.seq.toString('hex')));
    should((await reply)!.body.result).equal(1);
    await new Promise((r) => setTimeout(r, 5));
    // Session 2 reuses the trade number (firmware with a repeated number): it starts now, under T2.
    pile.write(realtime(TRADE, '0500'));
    await settle('0600');
    const rec2 = recordBody({ trade: TRADE, pile: PILE, variant: 2 });
    const st = gw.sessionTariff(PILE, decodeFrame(rawFrame(0x3b, rec2, '0700')).body)!;
    should(st.tariff.modelCode).equal('0063', `judged against ${st.tariff.modelCode} (session start ${JSON.stringify(st.sessionStart)})`);
    // The new date survives a restart on the same history file.
    const seen = gw.tariffHistory.firstSeen(PILE, TRADE);
    pile.close();
    await gw.close();
    gw = new YkcServer({ autoTimeSync: false, recordConfirm: 'at-once', tariffHistoryFile: path.join(dir, 't.jsonl') });
    gw.setTariff(null, T1.toBody());
    should(gw.tariffHistory.firstSeen(PILE, TRADE)).equal(seen);
    should(gw.sessionTariff(PILE, decodeFrame(rawFrame(0x3b, rec2, '0700')).body)!.tariff.modelCode).equal('0063');
    await gw.listen(0, '127.0.0.1');
  });

  it('a push the pile accepts after the request timed out: its late 0x57 ok (same sequence) still enters the history; a late refusal does not', async () => {
    pile.write(rawFrame(0x09, PILE, '0200'));
    await frameOf(pile, 0x0a); // T1 taken
    const refused = gw.request(PILE, { type: 0x58, body: model(0.9, '0064').toBody(PILE) as unknown as Record<string, unknown> }, { timeoutMs: 200 });
    const r = await frameOf(pile, 0x58);
    await refused.then(() => should.fail(null, null, 'no timeout'), (e) => should(e.code).equal('YKC_TIMEOUT'));
    pile.write(rawFrame(0x57, `${PILE}00`, r.seq.toString('hex')));
    const late = gw.request(PILE, { type: 0x58, body: T2.toBody(PILE) as unknown as Record<string, unknown> }, { timeoutMs: 200 });
    const push = await frameOf(pile, 0x58);
    await late.then(() => should.fail(null, null, 'no timeout'), (e) => should(e.code).equal('YKC_TIMEOUT'));
    // The slow 4G link delivers the pile's answer now: it took T2.
    pile.write(rawFrame(0x57, `${PILE}01`, push.seq.toString('hex')));
    await settle('0300');
    should(gw.tariffHistory.entries(PILE).map((e) => [e.tariff.modelCode, e.via])).eql([
      ['0062', '0x0A'],
      ['0063', '0x58'],
    ]);
    // A session started after that (no frame seen: dated by its start time) is judged against T2, as the pile billed it.
    const start = formatWallTime(wallTimeOf(new Date(Date.now() + 1000), gw.options.utcOffsetMinutes));
    const rec = { ...decodeFrame(rawFrame(0x3b, recordBody({ trade: TRADE, pile: PILE, variant: 5 }), '0400')).body, startTime: start };
    should(gw.sessionTariff(PILE, rec)!.tariff.modelCode).equal('0063');
  });
});
