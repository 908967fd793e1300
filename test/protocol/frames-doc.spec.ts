/** docs/frames.md is generated from the schemas; regenerating it must give the committed file. */
import { execFile } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import should from 'should';
import * as protocol from '../../src/protocol';
import { REPO_ROOT } from '../support/repo';

const gen = require(path.join(REPO_ROOT, 'scripts', 'gen-frames-doc.js')) as { render(p: typeof protocol): string; DOC: string };

describe('docs/frames.md (generated from the schemas)', () => {
  it('is up to date: node scripts/gen-frames-doc.js regenerates it after a schema change', () => {
    const committed = fs.readFileSync(path.join(REPO_ROOT, 'docs', 'frames.md'), 'utf8');
    const fresh = gen.render(protocol);
    if (fresh !== committed) {
      const a = fresh.split('\n');
      const b = committed.split('\n');
      const i = a.findIndex((line, k) => line !== b[k]);
      throw new Error(`docs/frames.md is out of date (first difference at line ${i + 1}: "${b[i]}" should be "${a[i]}"); run node scripts/gen-frames-doc.js`);
    }
  });

  it('has a section and a field table for every frame type and layout', () => {
    const doc = gen.render(protocol);
    for (const s of protocol.ALL_FRAMES) {
      const hex = '0x' + s.type.toString(16).toUpperCase().padStart(2, '0');
      should(doc).containEql(`\n## ${hex} ${s.name}\n`);
      should(doc).containEql(s.zh);
      for (const layout of s.layouts) for (const f of layout.fields) should(doc).containEql(`\`${f.name}\``);
    }
    should(doc.match(/\| Offset \| Width \| Field \|/g)!.length).equal(protocol.ALL_FRAMES.reduce((n, s) => n + s.layouts.length, 0));
  });

  it('the script takes the compiled folder as an argument, and --check exits 0 when the doc is current', async function () {
    this.timeout(15_000);
    const script = path.join(REPO_ROOT, 'scripts', 'gen-frames-doc.js');
    const run = (args: string[]): Promise<{ code: number; stderr: string }> =>
      new Promise((resolve) => {
        execFile(process.execPath, [script, ...args], { timeout: 10_000 }, (err, _out, stderr) => resolve({ code: err ? Number(err.code ?? 1) : 0, stderr }));
      });
    const buildRoot = path.join(__dirname, '..', '..'); // this spec runs from <build>/test/protocol
    const ok = await run([buildRoot, '--check']);
    should(ok.code).equal(0, ok.stderr);
    const missing = await run(['/nonexistent-build', '--check']);
    should(missing.code).equal(2);
    should(missing.stderr).match(/not found/);
  });
});
