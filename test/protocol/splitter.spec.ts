/** FrameSplitter: any chunking in → whole frames out; resync, bounded memory, bounded garbage. */
import should from 'should';
import { CrcOrder, FrameSplitter, SplitterOptions, YkcError } from '../../src/protocol';
import { handFrame } from './hand/support';

// Real frames (test/fixtures/vectors.json) and hand-built ones of several sizes.
const LOGIN = '6822000000011000100100000101010F312E31302E323300010000000000000000000004D1AA'; // tenyks capture
const RECORD =
  '68A28001003B18220000000155021673797553635328182200000001550208CF1C16170A19D0841517170A19400D0300000000000000000000000000400D0300000000000000000000000000400D0300000000000000000000000000A85B01007375000000000000876800000A000000007D75000000737500000000000087680000000000000000000000000000000000000001D0841517170A19450000000000000000A5B3'; // lambda capture
const HEARTBEAT = handFrame(0x03, '32010200000001 01 00', { seq: '0700' });
const REALTIME_HI = '6840BBBD0013202312120000100000000010057136003201060039560002030201940EF4035400000000000000004E5510002000C057010000000000606C010000009373'; // JCPP, CRC high byte first
/** The largest frame there is: L = 255, unknown type 0x70 (kept raw), 259 bytes. */
const BIGGEST = handFrame(0x70, 'AB'.repeat(251));

const MAX_FRAME = 259;

interface Run {
  frames: string[];
  orders: CrcOrder[];
  errors: YkcError[];
  maxBuffered: number;
  splitter: FrameSplitter;
}

/** Feeds chunks, recording frames, errors and the most bytes ever held between chunks. */
function feed(chunks: Buffer[], opts?: SplitterOptions): Run {
  const r: Run = { frames: [], orders: [], errors: [], maxBuffered: 0, splitter: undefined as unknown as FrameSplitter };
  r.splitter = new FrameSplitter(
    (f, o) => {
      r.frames.push(f.toString('hex').toUpperCase());
      r.orders.push(o);
    },
    (e) => r.errors.push(e),
    opts,
  );
  for (const c of chunks) {
    r.splitter.push(c);
    r.maxBuffered = Math.max(r.maxBuffered, r.splitter.buffered);
  }
  return r;
}

const bytes = (...hex: string[]): Buffer => Buffer.from(hex.join('').replace(/\s+/g, ''), 'hex');
const codes = (r: Run): string[] => r.errors.map((e) => e.code);

describe('protocol: FrameSplitter', () => {
  it('one whole frame in one chunk', () => {
    const r = feed([bytes(LOGIN)]);
    should(r.frames).deepEqual([LOGIN]);
    should(r.orders).deepEqual(['lo-first']);
    should(r.errors).be.empty();
    should(r.splitter.buffered).equal(0);
    should(r.splitter.stats).containDeep({ frames: 1, crcErrors: 0, garbageBytes: 0 });
  });

  it('three frames split in two at every position give the same frames', () => {
    const all = bytes(LOGIN, RECORD, HEARTBEAT);
    for (let p = 0; p <= all.length; p++) {
      const r = feed([all.subarray(0, p), all.subarray(p)]);
      should(r.frames).deepEqual([LOGIN, RECORD, HEARTBEAT], `split at ${p}`);
      should(r.errors).be.empty();
      should(r.maxBuffered).be.belowOrEqual(MAX_FRAME);
      should(r.splitter.buffered).equal(0);
    }
  });

  it('one byte at a time', () => {
    const all = bytes(LOGIN, RECORD, BIGGEST, HEARTBEAT);
    const r = feed([...all].map((x) => Buffer.from([x])));
    should(r.frames).deepEqual([LOGIN, RECORD, BIGGEST, HEARTBEAT]);
    should(r.errors).be.empty();
    should(r.maxBuffered).equal(MAX_FRAME - 1);
  });

  it('two frames in one chunk, the second completed by the next chunk', () => {
    const all = bytes(HEARTBEAT, LOGIN, RECORD);
    const cut = HEARTBEAT.length / 2 + LOGIN.length / 2 + 10;
    const r = feed([all.subarray(0, cut), all.subarray(cut)]);
    should(r.frames).deepEqual([HEARTBEAT, LOGIN, RECORD]);
  });

  it('garbage before and between frames is skipped and counted', () => {
    const r = feed([bytes('FF 00 12 34', LOGIN, '0D 0A 41 54', HEARTBEAT)]);
    should(r.frames).deepEqual([LOGIN, HEARTBEAT]);
    should(codes(r)).deepEqual(['YKC_GARBAGE', 'YKC_GARBAGE']);
    should(r.errors[0].details).containDeep({ bytes: 4, sample: 'FF001234' });
    should(r.errors[1].message).match(/skipped 4 bytes/);
    should(r.splitter.stats.garbageBytes).equal(8);
    should(r.splitter.garbageSinceFrame).equal(0);
  });

  it('a bad CRC is reported, one byte skipped, and the next good frame found', () => {
    const bad = HEARTBEAT.slice(0, -4) + '0000';
    const r = feed([bytes(bad, LOGIN)]);
    should(r.frames).deepEqual([LOGIN]);
    should(codes(r)[0]).equal('YKC_CRC');
    should(r.errors[0].message).match(/0x03.*CRC mismatch/);
    should(r.errors[0].details.frameHex).equal(bad);
    should(r.splitter.stats.crcErrors).equal(1);
  });

  it('a real frame starting inside a false candidate is found after the CRC failure', () => {
    // 68 20 00 00 00 70: a plausible header of an unknown type claiming 36 bytes, covering most of the login.
    const r = feed([bytes('68 20 00 00 00 70', LOGIN)]);
    should(r.frames).deepEqual([LOGIN]);
    should(codes(r)).containEql('YKC_CRC');
  });

  it('a stray header in garbage does not stall a complete frame behind it', () => {
    // 68 FF 00 00 00 70 claims 259 bytes; the login after it is complete and the pile now waits for a reply.
    const r = feed([bytes('68 FF 00 00 00 70'), bytes(LOGIN)]);
    should(r.frames).deepEqual([LOGIN]);
    should(r.splitter.buffered).equal(0);
    const r2 = feed([bytes('68 FF 00 00 00 70', LOGIN, HEARTBEAT)]);
    should(r2.frames).deepEqual([LOGIN, HEARTBEAT]);
  });

  it('…but a frame still arriving is not cut short by a look-alike inside it', () => {
    // The biggest frame's first half does not end in a complete valid frame: the splitter waits.
    const all = bytes(BIGGEST);
    const r = feed([all.subarray(0, 130), all.subarray(130)]);
    should(r.frames).deepEqual([BIGGEST]);
    should(r.errors).be.empty();
  });

  it('CRC sent high byte first is accepted and reported; refused when the option is off', () => {
    const r = feed([bytes(REALTIME_HI, LOGIN)]);
    should(r.frames).deepEqual([REALTIME_HI, LOGIN]);
    should(r.orders).deepEqual(['hi-first', 'lo-first']);
    should(r.splitter.stats.hiFirstCrc).equal(1);
    const strict = feed([bytes(REALTIME_HI, LOGIN)], { acceptHiFirstCrc: false });
    should(strict.frames).deepEqual([LOGIN]);
    should(codes(strict)).containEql('YKC_CRC');
  });

  it('impossible headers are refused at once: length below 4, flag above 1, body too short for a known type', () => {
    for (const head of ['68 03 00 00 00 03', '68 0D 00 00 02 03', '68 0C 00 00 00 13']) {
      const r = feed([bytes(head, HEARTBEAT)]);
      should(r.frames).deepEqual([HEARTBEAT], head);
      should(r.errors[0].code).equal('YKC_LENGTH');
      should(r.errors[0].message).match(/impossible frame header/);
    }
  });

  it('a header claiming more than is there waits with at most 259 bytes held, then resyncs', () => {
    const r = feed([bytes('68 FF 00 00 00 70'), Buffer.alloc(100, 0x11), Buffer.alloc(200, 0x22), bytes(HEARTBEAT)]);
    should(r.maxBuffered).be.belowOrEqual(MAX_FRAME);
    should(r.frames).deepEqual([HEARTBEAT]);
    should(codes(r)).containEql('YKC_CRC');
    should(r.splitter.buffered).equal(0);
  });

  it('a garbage flood sets overLimit once, holds nothing, and frames still pass', () => {
    const chunks: Buffer[] = [];
    for (let i = 0; i < 20; i++) chunks.push(Buffer.alloc(512, i % 2 ? 0x00 : 0x68)); // runs of 0x68 are garbage too (flag 0x68)
    chunks.push(bytes(HEARTBEAT));
    const r = feed(chunks, { maxGarbage: 4096 });
    should(r.splitter.overLimit).be.true();
    should(r.maxBuffered).be.belowOrEqual(5);
    const fatal = r.errors.filter((e) => e.details.fatal === true);
    should(fatal.length).equal(1);
    should(fatal[0].code).equal('YKC_GARBAGE');
    should(fatal[0].message).match(/more than 4096 bytes of garbage/);
    // After the fatal report the splitter is quiet: the flood is counted, not reported byte by byte.
    should(r.errors[r.errors.length - 1]).equal(fatal[0]);
    should(r.errors.length).be.belowOrEqual(4096 + 2);
    should(r.splitter.stats.garbageBytes).equal(20 * 512);
    should(r.frames).deepEqual([HEARTBEAT]);
    should(r.splitter.garbageSinceFrame).equal(0);
    r.splitter.reset();
    should(r.splitter.overLimit).be.false();
  });

  it('reset() drops a partial frame', () => {
    const r = feed([bytes(LOGIN).subarray(0, 20)]);
    should(r.splitter.buffered).equal(20);
    r.splitter.reset();
    should(r.splitter.buffered).equal(0);
    r.splitter.push(bytes(HEARTBEAT));
    should(r.frames).deepEqual([HEARTBEAT]);
  });

  it('never keeps a reference to the caller\'s chunk', () => {
    const chunk = bytes(LOGIN).subarray(0, 30);
    const r = feed([chunk]);
    chunk.fill(0);
    r.splitter.push(bytes(LOGIN).subarray(30));
    should(r.frames).deepEqual([LOGIN]);
  });
});
