/**
 * Outside review of the order journal (issue 14): a crash mid-write leaves a last line without its
 * newline. The restart must keep what was readable — and the next lines it writes must not be glued
 * onto that fragment, or the following restart finds a corrupt line in the middle (YKC_STORE, the
 * file set aside) and loses the first change written after the crash.
 */
import assert from 'assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { OrderJournal, OrderTracker } from '../../src/orders';
import { YkcError } from '../../src/protocol';
import { frameEv, realtime } from '../orders/synthetic';

const PILE = '45020000000001';
const T = (n: number) => `${PILE}01${String(n).padStart(16, '0')}`;

describe('adversarial: order journal torn mid-line by a crash, then two restarts', function () {
  let dir: string;
  let file: string;
  const trackers: OrderTracker[] = [];
  const make = () => {
    const t = new OrderTracker({ sweepMs: 60_000 }, new OrderJournal(file, 0));
    trackers.push(t);
    return t;
  };
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ykc-orders-torn-'));
    file = path.join(dir, 'orders.jsonl');
  });
  afterEach(() => {
    for (const t of trackers.splice(0)) t.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const halfChinese = Buffer.from('{"x":"' + T(8) + '","h":{"closeReason":"manual: 充电', 'utf8');
  for (const tail of ['{"o":{"tradeNo":"' + T(9) + '","pileNo":"4502', '{"c":"realtimeSilent|' + T(9) + '"}', halfChinese.subarray(0, halfChinese.length - 1)]) {
    it(`torn tail ${Buffer.isBuffer(tail) ? '(cut inside a UTF-8 character)' : tail.endsWith('}') ? '(a whole line without its newline)' : '(half a line)'}: the change after the restart survives the next restart, no YKC_STORE`, async () => {
      const a = make();
      a.onFrame(frameEv(PILE, 0x33, { tradeNo: T(1), gunNo: 1, result: 1 }));
      a.onFrame(realtime(PILE, 1, T(1), true, 1, 1));
      a.stop();
      fs.appendFileSync(file, tail); // the crash: no newline after it

      const b = make();
      const problems: YkcError[] = [];
      b.on('problem', (e) => problems.push(e));
      assert.equal(b.order(T(1))?.state, 'charging');
      b.onFrame(realtime(PILE, 1, T(1), false)); // the charge ends after the restart
      assert.equal(b.order(T(1))?.state, 'ended');
      b.stop();

      const c = make();
      c.on('problem', (e) => problems.push(e));
      await new Promise((r) => setImmediate(r));
      assert.deepEqual(problems.map((e) => e.message), [], 'no corrupt journal');
      assert.equal(c.order(T(1))?.state, 'ended', 'the change written after the crash is not lost');
      assert.deepEqual(fs.readdirSync(dir).filter((f) => f.includes('corrupt')), []);
    });
  }
});
