/** BoundedMap: the oldest (by last set) is forgotten beyond the bound; stale order entries never grow without limit. */
import should from 'should';
import { BoundedMap } from '../../src/gateway/bounded-map';

describe('gateway: BoundedMap (records memory)', () => {
  it('forgets the oldest by last set, iterates oldest first', () => {
    const m = new BoundedMap<number>(3);
    m.set('a', 1);
    m.set('b', 2);
    m.set('c', 3);
    m.set('a', 4); // a is now the newest
    m.set('d', 5); // b goes
    should([...m.entries()]).eql([['c', 3], ['a', 4], ['d', 5]]);
    should(m.has('b')).be.false();
    m.delete('c');
    m.set('e', 6);
    should([...m.entries()].map(([k]) => k)).eql(['a', 'd', 'e']);
    should(m.size).equal(3);
  });

  it('set/delete cycles below the bound keep the order list short', () => {
    const m = new BoundedMap<number>(10_000);
    for (let i = 0; i < 200_000; i++) {
      m.set(`k${i}`, i);
      m.delete(`k${i}`);
    }
    should(m.size).equal(0);
    should((m as unknown as { order: unknown[]; head: number }).order.length).be.below(2000);
  });
});
