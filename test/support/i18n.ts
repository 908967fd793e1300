/**
 * The test helper's RED._ hands the key back (params lost). To check what a user reads, a node
 * module can be loaded through `translating(lang, module)`: RED._ then renders from the pack's
 * catalogue in that language (i18next's `__name__` placeholders and `defaultValue`).
 */
import * as fs from 'fs';
import * as path from 'path';
import { REPO_ROOT } from './repo';

export function catalogue(lang: string): Record<string, unknown> {
  const dir = path.join(REPO_ROOT, 'nodes', 'locales', lang);
  const all: Record<string, unknown> = {};
  for (const f of fs.readdirSync(dir).filter((n) => n.endsWith('.json'))) Object.assign(all, JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')));
  return all;
}

export function translator(lang: string): (key: string, params?: Record<string, unknown>) => string {
  const cat = catalogue(lang);
  return (key, params = {}) => {
    let v: unknown = cat;
    for (const part of key.split('.')) v = typeof v === 'object' && v !== null ? (v as Record<string, unknown>)[part] : undefined;
    if (typeof v !== 'string') return typeof params.defaultValue === 'string' ? params.defaultValue : key;
    return v.replace(/__(\w+)__/g, (m, name: string) => (params[name] === undefined ? m : String(params[name])));
  };
}

/** The node module with RED._ rendering `lang` (the runtime API object is shared by the modules of one load). */
export function translating<M>(lang: string, nodeModule: M): M {
  const t = translator(lang);
  const wrapped = (RED: { _: unknown }) => {
    RED._ = t;
    return (nodeModule as unknown as (r: unknown) => unknown)(RED);
  };
  return wrapped as unknown as M;
}
