import should from 'should';
import { FrameSplitter, MAX_REPORTS, YkcError } from '../../src/protocol';
import { rawFrame } from '../support/raw';

describe('protocol: splitter stays quiet in a flood of junk', () => {
  it(`reports at most ${MAX_REPORTS} errors between good frames, counts the rest, and reports again after a good frame`, () => {
    const errors: YkcError[] = [];
    const frames: Buffer[] = [];
    const s = new FrameSplitter((f) => frames.push(Buffer.from(f)), (e) => errors.push(e), { maxGarbage: 1 << 20 });
    // 200 impossible headers separated by junk: hundreds of would-be errors.
    const junk = Buffer.concat(Array.from({ length: 200 }, () => Buffer.from('AA68020000000355', 'hex')));
    const good = rawFrame(0x03, '3201020000000101' + '00');
    s.push(Buffer.concat([junk, good, junk]));
    should(frames).have.length(1);
    should(errors.length).equal(2 * MAX_REPORTS);
    should(s.stats.resyncs).be.aboveOrEqual(400);
    should(s.stats.garbageBytes).be.aboveOrEqual(200 * 8 * 2 - 2 * 8);
  });
});
