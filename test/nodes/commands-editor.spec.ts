/**
 * The command nodes' editor files, catalogues and help, checked against docs/style.md and against
 * the keys the runtime code really uses (including the shared runner's, which every catalogue needs).
 */
import * as fs from 'fs';
import * as path from 'path';
import should from 'should';
import { REPO_ROOT } from '../support/repo';
import { checkEditorConventions } from '../support/editor';

const TYPES = ['ykc-start', 'ykc-stop', 'ykc-tariff', 'ykc-time-sync', 'ykc-reboot', 'ykc-ota', 'ykc-command'];
const read = (rel: string) => fs.readFileSync(path.join(REPO_ROOT, rel), 'utf8');
const keys = (o: unknown, prefix = ''): string[] =>
  o !== null && typeof o === 'object'
    ? Object.entries(o as Record<string, unknown>).flatMap(([k, v]) => keys(v, prefix ? `${prefix}.${k}` : k))
    : [prefix];
const all = (re: RegExp, text: string) => [...text.matchAll(re)].map((m) => m[1]);

/** Keys the shared runner (nodes/shared/command.ts) builds as `<type>.<key>`. */
function runnerKeys(): string[] {
  const src = read('nodes/shared/command.ts');
  const status = all(/status\('[a-z]+', '[a-z]+', '(\w+)'/g, src).map((k) => `status.${k}`);
  const errors = all(/fieldError\('(\w+)'/g, src).map((k) => `errors.${k}`);
  const fixed = all(/`\$\{opts\.type\}\.((?:status|errors)\.\w+)`/g, src);
  const out = [...new Set([...status, ...errors, ...fixed])];
  out.length.should.be.above(12);
  return out;
}

describe('command nodes: editor files, catalogues, help', function () {
  const shared = runnerKeys();

  for (const type of TYPES) {
    describe(type, function () {
      const en = JSON.parse(read(`nodes/locales/en-US/${type}.json`));
      const zh = JSON.parse(read(`nodes/locales/zh-CN/${type}.json`));
      const enKeys = keys(en);
      const ts = read(`nodes/${type}.ts`);
      const html = read(`nodes/${type}.html`);

      it('catalogues: en-US and zh-CN have the same keys (zh-CN adds errors.YKC_* descriptions); all texts are strings', function () {
        keys(zh).filter((k) => !/\.errors\.YKC_/.test(k)).sort().should.eql([...enKeys].sort());
        for (const k of keys(zh)) should(k.split('.').reduce((o: Record<string, unknown>, p) => o[p] as Record<string, unknown>, zh)).be.a.String();
        keys(zh).filter((k) => /\.errors\.YKC_/.test(k)).length.should.be.above(5);
      });

      it('every key the runtime and the editor use exists, the shared runner\'s included', function () {
        const used = new Set<string>(shared.map((k) => `${type}.${k}`));
        const t = type.replace(/-/g, '\\-');
        for (const m of ts.matchAll(new RegExp(`['"\`](${t}\\.(?:label|status|errors|paletteLabel)[A-Za-z.]*)['"\`]`, 'g'))) used.add(m[1]);
        for (const k of all(/fieldError\('(\w+)'/g, ts)) used.add(`${type}.errors.${k}`);
        for (const k of all(new RegExp(`inputError\\(RED, '${t}', '(\\w+)'`, 'g'), ts)) used.add(`${type}.errors.${k}`);
        for (const k of all(/\bst\('\w+', '\w+', '(\w+)'\)/g, ts)) used.add(`${type}.status.${k}`);
        for (const k of all(/table: '(\w+)'/g, ts)) should(enKeys.some((x) => x.startsWith(`${type}.reasons.${k}.`))).be.true(`reasons.${k}`);
        for (const m of html.matchAll(/data-i18n="(?:\[[a-z]+\])?((?:ykc-[a-z-]+)\.[A-Za-z.]+)"/g)) used.add(m[1]);
        for (const m of html.matchAll(/this\._\('([a-z-]+\.[A-Za-z.]+)'\)/g)) used.add(m[1]);
        for (const m of html.matchAll(/'(ykc-[a-z-]+\.label\.[A-Za-z]+)'/g)) used.add(m[1]);
        used.size.should.be.above(20);
        for (const k of used) enKeys.should.containEql(k);
      });

      it('the editor registers the type literally, in the ykc category, pack colour, its icon, outputs as the runtime', function () {
        checkEditorConventions(type);
        const runtimeOutputs = Number(/outputs: (\d)/.exec(ts)![1]);
        html.should.containEql(`outputs: ${runtimeOutputs},`);
        html.should.containEql("server: { value: '', type: 'ykc-server', required: true }");
        // Every dialog input is backed by a default (or a credential).
        const defaults = new Set(all(/^\s{12}(\w+): \{/gm, html));
        for (const id of all(/id="node-input-(\w+)"/g, html)) defaults.has(id).should.be.true(`${id} has a default`);
      });

      it('help in en-US and zh-CN: data-help-name, summary first, sections in order, every output described', function () {
        for (const lang of ['en-US', 'zh-CN']) {
          const help = read(`nodes/locales/${lang}/${type}.html`);
          help.should.containEql(`data-help-name="${type}"`);
          help.trimStart().split('\n')[1].should.match(/^\s*<p>/);
          all(/<h3>([^<]+)<\/h3>/g, help).should.eql(lang === 'en-US' ? ['Properties', 'Inputs', 'Outputs', 'Details', 'References'] : ['属性', '输入', '输出', '详细', '参考']);
          const outputs = Number(/outputs: (\d)/.exec(html)![1]);
          const ports = help.split('<ol class="node-ports">')[1].split('</ol>')[0];
          (ports.match(/<li>/g) ?? []).length.should.equal(outputs);
          help.should.containEql('<pre>');
          if (lang === 'zh-CN') help.should.match(/[\u4e00-\u9fff]{20}/);
        }
      });
    });
  }

  it('ykc-command: the dialog lists exactly the runtime\'s commands, each with a hint', function () {
    const ts = read('nodes/ykc-command.ts');
    const block = ts.split('const COMMANDS = {')[1].split('} as const')[0];
    const names = all(/^\s+(\w+): /gm, block);
    names.length.should.equal(13);
    const html = read('nodes/ykc-command.html');
    all(/<option value="(\w+)"/g, html).sort().should.eql([...names].sort());
    const en = JSON.parse(read('nodes/locales/en-US/ykc-command.json'))['ykc-command'];
    Object.keys(en.hints).sort().should.eql([...names].sort());
  });

  it('ykc-ota: the password is a credential in the editor and the runtime, never a plain default', function () {
    const html = read('nodes/ykc-ota.html');
    html.should.match(/credentials: \{\s+ftpPassword: \{ type: 'password' \}/);
    html.should.containEql('type="password" id="node-input-ftpPassword"');
    html.should.not.match(/^\s{12}ftpPassword: \{ value/m);
    read('nodes/ykc-ota.ts').should.containEql("credentials: { ftpPassword: { type: 'password' } }");
  });

  it('ykc-tariff: the default grid has 48 slots and the dialog validators match the runtime rules', function () {
    const html = read('nodes/ykc-tariff.html');
    const slots = /slots: \{ value: '([0-3]+)'/.exec(html)![1];
    slots.should.have.length(48);
    // The price validator: non-negative, at most 5 decimals.
    const re = new RegExp(/sharpElecPrice: \{ value: '', validate: RED\.validators\.regex\((\/.+\/)\) \}/.exec(html)![1].slice(1, -1));
    re.test('1.23456').should.be.true();
    re.test('1.234567').should.be.false();
    re.test('-1').should.be.false();
  });
});
