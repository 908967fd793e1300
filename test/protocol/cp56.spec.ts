/**
 * CP56Time2a with the day-of-week bits (docs/protocol.md §3.2, byte 4 bits 5–7) and the summer-time bit:
 * read as the time, flags kept beside it, re-encoded byte for byte. Only impossible values stay raw.
 */
import should from 'should';
import { ALL_FRAMES, crc16Modbus, decodeFrame, encodeFrame, YkcError } from '../../src/protocol';
import { loadVectors } from '../support/repo';

/** The frame of issue 11 (a JCPP pile's 0x55): two third-party decoders read 2023-12-13 17:04:14. */
const ISSUE_FRAME = '68120700005555031412782305B03604116D0C1730CD';

/** Day of week 1 (Monday) … 7 (Sunday) of a "YYYY-MM-DD …" time. */
function weekdayOf(time: string): number {
  const d = new Date(time.slice(0, 10) + 'T00:00:00Z').getUTCDay();
  return d === 0 ? 7 : d;
}

/** The frame with a new CRC (low byte first), so mutated frames stay valid. */
function withCrc(frame: Buffer): Buffer {
  const out = Buffer.from(frame);
  const c = crc16Modbus(out, 2, out.length - 2);
  out[out.length - 2] = c & 0xff;
  out[out.length - 1] = c >>> 8;
  return out;
}

/** Body offsets of the CP56 fields of each schema layout, from the schema (by encoding "CP56Time2a"). */
function cp56Offsets(type: number, bodyLength: number): Array<{ name: string; offset: number }> {
  const schema = ALL_FRAMES.find((s) => s.type === type);
  if (!schema) return [];
  const layout = schema.layouts.find((l) => l.fixedWidth === bodyLength) ?? schema.layouts[0];
  return layout.fields.flatMap((f, i) => (f.doc.enc === 'CP56Time2a' ? [{ name: f.name, offset: layout.offsets[i] }] : []));
}

describe('protocol: CP56Time2a day of week and flags (docs/protocol.md §3.2)', () => {
  it('reads the issue frame as 2023-12-13 17:04:14, weekday 3, and gives back the same bytes', () => {
    const f = decodeFrame(ISSUE_FRAME);
    should(f.crcValid).not.be.false();
    f.body.should.eql({ pileNo: '55031412782305', time: '2023-12-13 17:04:14', timeWeekday: 3 });
    encodeFrame(f).toString('hex').toUpperCase().should.equal(ISSUE_FRAME);
    // And through JSON, as flows carry it.
    encodeFrame(JSON.parse(JSON.stringify(f))).toString('hex').toUpperCase().should.equal(ISSUE_FRAME);
  });

  it('every CP56 field of every vector frame: with the true weekday set, still the same time, weekday kept, same bytes back', () => {
    let checked = 0;
    const types = new Set<number>();
    for (const v of loadVectors()) {
      if (!v.length_ok || v.encrypt_flag !== '0x00') continue;
      const frame = Buffer.from(v.hex, 'hex');
      let before;
      try {
        before = decodeFrame(frame, { verifyCrc: false });
      } catch {
        continue;
      }
      const fields = cp56Offsets(before.type, frame.length - 8);
      if (!fields.length) continue;
      const mutated = Buffer.from(frame);
      const expected: Record<string, unknown> = {};
      for (const { name, offset } of fields) {
        const t = before.body[name];
        if (typeof t !== 'string' || t.startsWith('cp56:')) continue;
        const wd = weekdayOf(t);
        mutated[6 + offset + 4] = (mutated[6 + offset + 4] & 0x1f) | (wd << 5);
        expected[name] = t;
        expected[name + 'Weekday'] = wd;
      }
      if (!Object.keys(expected).length) continue;
      const sent = withCrc(mutated);
      const after = decodeFrame(sent);
      after.body.should.containDeep(expected);
      // Nothing else moved.
      const rest = (b: Record<string, unknown>) => Object.fromEntries(Object.entries(b).filter(([k]) => !k.endsWith('Weekday')));
      rest(after.body).should.eql(rest(before.body));
      encodeFrame(after).equals(sent).should.be.true(`round trip of ${v.type} ${v.source}`);
      checked++;
      types.add(before.type);
    }
    checked.should.be.above(3);
    [...types].sort().should.containDeep([0x3b, 0x3d]);
  });

  it('every frame type with a CP56 field: weekday and summer-time bit on every time, round trip byte for byte', () => {
    const seen: string[] = [];
    for (const schema of ALL_FRAMES) {
      schema.layouts.forEach((layout) => {
        const times = layout.fields.filter((f) => f.doc.enc === 'CP56Time2a').map((f) => f.name);
        if (!times.length || layout.list) return;
        // A body of zeros with each time set: 2024-02-29 23:59:58.999, a Thursday (4).
        const zeros = Buffer.alloc(layout.fixedWidth);
        const body = { ...decodeFrame(encodeFrame({ type: schema.type, seq: 1, body: decodeBody(schema.type, zeros) })).body };
        times.forEach((n, i) => {
          body[n] = '2024-02-29 23:59:58.999';
          body[n + 'Weekday'] = 4;
          if (i % 2 === 0) body[n + 'SummerTime'] = true;
        });
        const bytes = encodeFrame({ type: schema.type, seq: 7, body });
        const back = decodeFrame(bytes);
        for (const [i, n] of times.entries()) {
          should(back.body[n]).equal('2024-02-29 23:59:58.999');
          should(back.body[n + 'Weekday']).equal(4);
          should(back.body[n + 'SummerTime']).equal(i % 2 === 0 ? true : undefined);
        }
        encodeFrame(back).equals(bytes).should.be.true();
        seen.push(schema.name + (layout.variant ? `/${layout.variant}` : ''));
      });
    }
    seen.should.containDeep(['transactionRecord', 'transactionRecordV17', 'timeSync', 'timeSyncReply']);
  });

  it('encoding: weekday 0 or absent sends none; a bad weekday or flag is YKC_FIELD naming it; the older " SU" suffix still sets the bit', () => {
    const enc = (body: Record<string, unknown>) => encodeFrame({ type: 0x56, seq: 1, body: { pileNo: '55550314127823', ...body } });
    const cp = (b: Buffer) => b.subarray(13, 20).toString('hex').toUpperCase();
    cp(enc({ time: '2023-12-13 17:04:14' })).should.equal('B03604110D0C17');
    cp(enc({ time: '2023-12-13 17:04:14', timeWeekday: 0 })).should.equal('B03604110D0C17');
    cp(enc({ time: '2023-12-13 17:04:14', timeWeekday: 3 })).should.equal('B03604116D0C17');
    cp(enc({ time: '2023-12-13 17:04:14', timeWeekday: null })).should.equal('B03604110D0C17');
    cp(enc({ time: '2023-12-13 17:04:14 SU' })).should.equal('B03604910D0C17');
    cp(enc({ time: '2023-12-13 17:04:14', timeSummerTime: true, timeWeekday: 3 })).should.equal('B03604916D0C17');
    // A verbatim value carries its own bits; the flags do not touch it.
    cp(enc({ time: 'cp56:B03604110D0C17', timeWeekday: 5 })).should.equal('B03604110D0C17');
    for (const [body, field] of [
      [{ time: '2023-12-13 17:04:14', timeWeekday: 8 }, 'timeWeekday'],
      [{ time: '2023-12-13 17:04:14', timeWeekday: 'Wed' }, 'timeWeekday'],
      [{ time: '2023-12-13 17:04:14', timeSummerTime: 'yes' }, 'timeSummerTime'],
    ] as const) {
      try {
        enc(body);
        should.fail(null, null, `accepted ${JSON.stringify(body)}`);
      } catch (e) {
        should(e).be.instanceOf(YkcError);
        (e as YkcError).code.should.equal('YKC_FIELD');
        (e as YkcError).message.should.match(new RegExp(field));
      }
    }
  });

  it('only impossible values stay "cp56:…": IV, reserved bits, day 0, 30 February, minute 60', () => {
    for (const hex of ['B0368411 6D0C17', 'B0364411 6D0C17', 'B0360431 6D0C17', 'B0360411 600C17', 'B0360411 7E0217', 'B0360411 6D1C17', 'B036041 16D0C97', 'B0363C11 6D0C17']) {
      const h = hex.replace(/\s/g, '');
      const f = decodeFrame(withCrc(Buffer.from('681207000056' + '55550314127823' + h + '0000', 'hex')));
      should(f.body.time).equal('cp56:' + h);
      should(f.body.timeWeekday).be.undefined();
      encodeFrame(f).subarray(13, 20).toString('hex').toUpperCase().should.equal(h);
    }
  });
});

function decodeBody(type: number, body: Buffer): Record<string, unknown> {
  const frame = Buffer.concat([Buffer.from([0x68, body.length + 4, 0, 0, 0, type]), body, Buffer.alloc(2)]);
  return decodeFrame(withCrc(frame)).body;
}
