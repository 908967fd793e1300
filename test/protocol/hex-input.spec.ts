/** Hex text of any size is checked in linear time: multi-megabyte input is an error, never a stack overflow. */
import should from 'should';
import { decodeFrame, encodeFrame, isWholeHex, parseHex, YkcError } from '../../src/protocol';

const code = (fn: () => unknown): string => {
  try {
    fn();
  } catch (e) {
    should(e).be.instanceOf(YkcError);
    return (e as YkcError).code;
  }
  throw new Error('no error');
};

describe('protocol: hex input of any size (issue 11.8)', () => {
  it('parses 5 MB of hex (the regex this replaced overflowed the stack at that size)', () => {
    should(parseHex('0A'.repeat(5_000_000)).length).equal(5_000_000);
  });

  it('odd length, stray characters, huge: YKC_INPUT with a short message', () => {
    for (const bad of ['6'.repeat(10_000_001), '00'.repeat(5_000_000) + 'zz', 'g', '0']) {
      try {
        parseHex(bad);
        should.fail(null, null, 'accepted');
      } catch (e) {
        should(e).be.instanceOf(YkcError);
        should((e as YkcError).code).equal('YKC_INPUT');
        should((e as YkcError).message.length).be.below(200);
      }
    }
    should(code(() => decodeFrame('68'.repeat(5_000_000) + '6'))).equal('YKC_INPUT');
  });

  it('a huge but valid hex frame text and a huge body.extra are refused by their length, not by a crash', () => {
    should(code(() => decodeFrame('00'.repeat(5_000_000)))).equal('YKC_START');
    should(code(() => encodeFrame({ type: 0x3b, body: { extra: '00'.repeat(5_000_000) } }))).equal('YKC_LENGTH');
    should(code(() => encodeFrame({ type: 0x13, body: { extra: '0'.repeat(5) } }))).equal('YKC_FIELD');
  });

  it('isWholeHex', () => {
    should(isWholeHex('')).be.true();
    should(isWholeHex('0aFF')).be.true();
    should(isWholeHex('0aF')).be.false();
    should(isWholeHex('0x0a')).be.false();
  });
});
