import should from 'should';
import { rawFrame } from '../support/raw';
import { inject, lastStatus, PILE, Rig, rig, seqOf } from './commands-harness';

/* eslint-disable @typescript-eslint/no-require-imports */
const stopNode = require('../../nodes/ykc-stop');
const rebootNode = require('../../nodes/ykc-reboot');
const timeNode = require('../../nodes/ykc-time-sync');
/* eslint-enable @typescript-eslint/no-require-imports */

const common = { pile: PILE, pileType: 'str' };

/** "YYYY-MM-DD HH:mm:ss" of an instant at a fixed offset. */
function wall(ms: number, offsetMinutes: number): string {
  return new Date(ms + offsetMinutes * 60_000).toISOString().slice(0, 19).replace('T', ' ');
}
const secondsApart = (a: string, b: string) => Math.abs(Date.parse(a.replace(' ', 'T') + 'Z') - Date.parse(b.replace(' ', 'T') + 'Z')) / 1000;

describe('nodes: ykc-stop (0x36 → 0x35)', function () {
  this.timeout(10_000);
  let r: Rig;
  afterEach(async () => {
    if (r) await r.close();
  });

  it('stops a gun and reports "stopped"', async () => {
    r = await rig(stopNode, { type: 'ykc-stop', ...common, gun: 1 });
    const p = await r.pile();
    inject(r, { payload: { gunNo: 2 }, keep: 'me' });
    const f = await p.next(0x36);
    should(p.raw[p.raw.length - 1].subarray(6).toString('hex').slice(0, 16)).equal(`${PILE}02`);
    p.write(rawFrame(0x35, `${PILE}020100`, seqOf(f)));
    const m = await r.out[0].next();
    should(m.payload).containEql({ pileNo: PILE, gunNo: 2, result: 1, resultName: 'stopped' });
    should(m.ykc).containEql({ outcome: 'accepted', gunNo: 2, type: 0x35 });
    should(m.keep).equal('me');
  });

  it('a refusal carries the pile reason ("gun not charging")', async () => {
    r = await rig(stopNode, { type: 'ykc-stop', ...common, gun: 1 });
    const p = await r.pile();
    inject(r, { payload: {} });
    const f = await p.next(0x36);
    p.write(rawFrame(0x35, `${PILE}010002`, seqOf(f)));
    const m = await r.out[1].next();
    should(m.payload).containEql({ failReason: 2, failReasonName: 'gun not charging' });
    should((await r.caught.next()).error.code).equal('YKC_REJECTED');
  });

  it('no gun anywhere → YKC_FIELD, nothing sent', async () => {
    r = await rig(stopNode, { type: 'ykc-stop', ...common });
    const p = await r.pile();
    inject(r, { payload: 'go' });
    should((await r.caught.next()).error.code).equal('YKC_FIELD');
    inject(r, { payload: { gunNo: 1 } });
    const f = await p.next(0x36);
    should(f.body.gunNo).equal(1);
  });
});

describe('nodes: ykc-reboot (0x92 → 0x91)', function () {
  this.timeout(10_000);
  let r: Rig;
  afterEach(async () => {
    if (r) await r.close();
  });

  it('reboots when idle (byte 0x02) and reports ok; a "failed" answer is a refusal', async () => {
    r = await rig(rebootNode, { type: 'ykc-reboot', ...common, runWhen: '2' });
    const p = await r.pile();
    inject(r, { payload: true });
    const f = await p.next(0x92);
    should(p.raw[p.raw.length - 1].subarray(6, 14).toString('hex')).equal(`${PILE}02`);
    should(f.body.runWhenName).equal('when idle');
    p.write(rawFrame(0x91, `${PILE}01`, seqOf(f)));
    should((await r.out[0].next()).payload).containEql({ result: 1, resultName: 'ok' });
    inject(r, { payload: { runWhen: 'now' } });
    const g = await p.next(0x92);
    should(g.body.runWhen).equal(1);
    p.write(rawFrame(0x91, `${PILE}00`, seqOf(g)));
    const m = await r.out[1].next();
    should(m.ykc).containEql({ outcome: 'refused', reason: 0, reasonName: 'failed' });
  });

  it('runWhen 3 → YKC_FIELD, nothing sent', async () => {
    r = await rig(rebootNode, { type: 'ykc-reboot', ...common });
    const p = await r.pile();
    inject(r, { payload: { runWhen: 3 } });
    should((await r.caught.next()).error.code).equal('YKC_FIELD');
    inject(r, { payload: {} });
    should((await p.next(0x92)).body.runWhen).equal(1);
  });
});

describe('nodes: ykc-time-sync (0x56 → 0x55)', function () {
  this.timeout(10_000);
  let r: Rig;
  afterEach(async () => {
    if (r) await r.close();
  });

  it('sends a given wall time as CP56Time2a bytes and reports the echo', async () => {
    r = await rig(timeNode, { type: 'ykc-time-sync', ...common, mode: 'given', time: '2025-10-10 11:06:33' });
    const p = await r.pile();
    inject(r, { payload: '' });
    const f = await p.next(0x56);
    // §3.2 real example: 33 000 ms → E8 80, minute 06, hour 0B, day 0A, month 0A, year 19.
    should(p.raw[p.raw.length - 1].subarray(6 + 7, 6 + 14).toString('hex').toUpperCase()).equal('E880060B0A0A19');
    p.write(rawFrame(0x55, `${PILE}E880060B0A0A19`, seqOf(f)));
    const m = await r.out[0].next();
    should(m.payload).eql({ pileNo: PILE, time: '2025-10-10 11:06:33' });
    should(m.ykc).containEql({ outcome: 'accepted', sentTime: '2025-10-10 11:06:33', name: 'timeSyncReply' });
  });

  it('"now" is the server clock in China time by default, in UTC when asked', async () => {
    r = await rig(timeNode, { type: 'ykc-time-sync', ...common, mode: 'now' });
    const p = await r.pile();
    inject(r, { payload: {} });
    const f = await p.next(0x56);
    should(secondsApart(String(f.body.time), wall(Date.now(), 480))).be.below(3);
    await r.close();
    r = await rig(timeNode, { type: 'ykc-time-sync', ...common, tz: 'UTC' });
    const q = await r.pile();
    inject(r, { payload: {} });
    const g = await q.next(0x56);
    should(secondsApart(String(g.body.time), wall(Date.now(), 0))).be.below(3);
  });

  it('an instant in msg.payload.time is shown in the node zone (IANA zones follow summer time)', async () => {
    r = await rig(timeNode, { type: 'ykc-time-sync', ...common, tz: 'America/New_York' });
    const p = await r.pile();
    inject(r, { payload: { time: '2025-01-15T12:00:00Z' } });
    const f = await p.next(0x56);
    should(f.body.time).equal('2025-01-15 07:00:00');
    // The lane is free again once the pile answered (one time sync in flight per pile).
    p.write(rawFrame(0x55, p.raw[p.raw.length - 1].subarray(6, 20).toString('hex'), seqOf(f)));
    await r.out[0].next();
    inject(r, { payload: { time: Date.UTC(2025, 6, 15, 12, 0, 0) } });
    should((await p.next(0x56)).body.time).equal('2025-07-15 08:00:00');
  });

  it('a fixed offset zone and a bad time / bad zone → YKC_FIELD, nothing sent', async () => {
    r = await rig(timeNode, { type: 'ykc-time-sync', ...common, tz: '+05:30' });
    const p = await r.pile();
    inject(r, { payload: { time: '2025-13-01 00:00:00' } });
    should((await r.caught.next()).error.code).equal('YKC_FIELD');
    inject(r, { payload: { time: '2025-01-01T00:00:00Z' } });
    should((await p.next(0x56)).body.time).equal('2025-01-01 05:30:00');
    await r.close();
    r = await rig(timeNode, { type: 'ykc-time-sync', ...common, tz: 'Mars/Olympus' });
    should(lastStatus(r.node)).containEql({ fill: 'red', text: 'ykc-time-sync.status.badZone' });
    await r.pile();
    inject(r, { payload: {} });
    should((await r.caught.next()).error.code).equal('YKC_FIELD');
  });
});
