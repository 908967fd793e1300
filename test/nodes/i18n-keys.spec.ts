/**
 * Every message-catalogue key the nodes use exists in both catalogues (en-US and zh-CN), and no
 * status is set to a raw key (the editor shows such a key as it is, e.g. `ykc-server.status.error`).
 *
 * Keys are found in the sources, not listed by hand: literal keys (`'ykc-server.status.listening'`,
 * `data-i18n="…"`), keys built from the node's type in the shared runner (`${opts.type}.errors.x`,
 * `this.t('status.x')`, `this.status(…, 'x')`, `fieldError('x')`) and the per-node helpers
 * (ykc-pile's `t()` / `fail()`, ykc-start's `st()`, `inputError(RED, 'ykc-x', 'y')`).
 */
import * as fs from 'fs';
import * as path from 'path';
import should from 'should';
import { REPO_ROOT } from '../support/repo';

const NODES = path.join(REPO_ROOT, 'nodes');
const LANGS = ['en-US', 'zh-CN'];

const types = fs
  .readdirSync(NODES)
  .filter((f) => /^ykc-[\w-]+\.ts$/.test(f))
  .map((f) => f.replace(/\.ts$/, ''));

/** Node types whose behaviour comes from nodes/shared/command.ts (its keys are `${type}.…`). */
const runnerTypes = types.filter((t) => /new CommandRunner\(/.test(fs.readFileSync(path.join(NODES, `${t}.ts`), 'utf8')));

function catalogue(lang: string): Record<string, unknown> {
  const all: Record<string, unknown> = {};
  for (const t of types) {
    const file = path.join(NODES, 'locales', lang, `${t}.json`);
    if (fs.existsSync(file)) Object.assign(all, JSON.parse(fs.readFileSync(file, 'utf8')));
  }
  return all;
}

function has(cat: Record<string, unknown>, key: string): boolean {
  let v: unknown = cat;
  for (const part of key.split('.')) {
    if (typeof v !== 'object' || v === null || !(part in (v as object))) return false;
    v = (v as Record<string, unknown>)[part];
  }
  // A plural form (__count__) counts: i18next looks up `x` and `x_plural`.
  return typeof v === 'string';
}

interface Use {
  key: string;
  where: string;
}

function lineOf(text: string, index: number): number {
  return text.slice(0, index).split('\n').length;
}

/** Every key a source file uses, with file:line. */
function usesIn(file: string): Use[] {
  const text = fs.readFileSync(file, 'utf8');
  const rel = path.relative(REPO_ROOT, file);
  const own = path.basename(file).replace(/\.(ts|html)$/, '');
  const out: Use[] = [];
  const add = (re: RegExp, keys: (m: RegExpExecArray) => string[]) => {
    for (let m = re.exec(text); m; m = re.exec(text)) for (const key of keys(m)) out.push({ key, where: `${rel}:${lineOf(text, m.index)}` });
  };
  const typeAlt = types.join('|');
  // Literal keys: a node type, then dotted names, then the end of the string (not a prefix for concatenation).
  // Icon file names (ykc-in.svg) and admin permissions (ykc-server.read) look alike: not keys.
  add(new RegExp(`(?<=['"\`\\]])(${typeAlt})((?:\\.[A-Za-z0-9_]+)+)(?=['"\`])`, 'g'), (m) => (/^\.(svg|png|read|write)$/.test(m[2]) ? [] : [m[1] + m[2]]));
  if (own === 'command') {
    const each = (tail: string) => runnerTypes.map((t) => `${t}.${tail}`);
    add(/\$\{(?:this\.)?opts\.type\}\.((?:[A-Za-z0-9_]+\.)*[A-Za-z0-9_]+)`/g, (m) => each(m[1]));
    add(/\bthis\.t\('([\w.]+)'/g, (m) => each(m[1]));
    add(/\bthis\.status\('\w+', '\w+', '(\w+)'/g, (m) => each(`status.${m[1]}`));
    add(/\bthis\.fieldError\('(\w+)'/g, (m) => each(`errors.${m[1]}`));
  }
  if (runnerTypes.includes(own)) {
    add(/\brunner\.fieldError\('(\w+)'/g, (m) => [`${own}.errors.${m[1]}`]);
    add(/\brunner\.status\('\w+', '\w+', '(\w+)'/g, (m) => [`${own}.status.${m[1]}`]);
  }
  if (own === 'ykc-pile') {
    add(/\bt\('([\w.]+)'/g, (m) => [`ykc-pile.${m[1]}`]);
    add(/\bfail\('(\w+)'/g, (m) => [`ykc-pile.errors.${m[1]}`]);
  }
  if (own === 'ykc-start') add(/\bst\('\w+', '\w+', '(\w+)'\)/g, (m) => [`ykc-start.status.${m[1]}`]);
  add(/\binputError\(\s*RED,\s*'(ykc-[\w-]+)',\s*'(\w+)'/g, (m) => [`${m[1]}.errors.${m[2]}`]);
  return out;
}

const sources = [
  ...fs.readdirSync(NODES).filter((f) => /^ykc-.*\.(ts|html)$/.test(f)).map((f) => path.join(NODES, f)),
  ...fs.readdirSync(path.join(NODES, 'shared')).filter((f) => f.endsWith('.ts')).map((f) => path.join(NODES, 'shared', f)),
];

describe('nodes: message-catalogue keys', () => {
  const uses = sources.flatMap(usesIn);

  it('finds the keys (the scan itself works)', () => {
    const keys = new Set(uses.map((u) => u.key));
    // One of each kind of use: literal in .ts, data-i18n in .html, the runner's built keys, ykc-pile's helpers.
    for (const k of ['ykc-server.status.listening', 'ykc-server.label.host', 'ykc-stop.status.waiting', 'ykc-command.errors.noPile', 'ykc-pile.errors.badPileNo', 'ykc-pile.status.online', 'ykc-start.status.waitingForPlug']) {
      should(keys.has(k)).be.true(`scan did not find ${k}`);
    }
    should(runnerTypes.length).be.above(5);
  });

  for (const lang of LANGS) {
    it(`every key used exists in ${lang}`, () => {
      const cat = catalogue(lang);
      const missing = uses.filter((u) => !has(cat, u.key)).map((u) => `${u.key} (${u.where})`);
      should([...new Set(missing)]).eql([], `missing in ${lang}`);
    });
  }

  it('no status is set to a raw catalogue key', () => {
    const raw: string[] = [];
    for (const file of sources.filter((f) => f.endsWith('.ts'))) {
      const text = fs.readFileSync(file, 'utf8');
      const re = /\btext:\s*(['"`])([^'"`]*)\1/g;
      for (let m = re.exec(text); m; m = re.exec(text)) {
        if (/^(\$\{[^}]+\}|ykc-[\w-]+)\.[\w.${}]+$/.test(m[2])) raw.push(`${path.relative(REPO_ROOT, file)}:${lineOf(text, m.index)} ${m[2]}`);
      }
    }
    should(raw).eql([]);
  });
});
