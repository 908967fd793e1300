import * as fs from 'fs';
import * as path from 'path';

/** The repository root, found from the compiled test's location (dist/test/…) or the working directory. */
function findRoot(): string {
  let dir = __dirname;
  for (let i = 0; i < 6; i++) {
    const pkg = path.join(dir, 'package.json');
    if (fs.existsSync(pkg) && JSON.parse(fs.readFileSync(pkg, 'utf8')).name === '@openykc/node-red-ykc') return dir;
    dir = path.dirname(dir);
  }
  return process.cwd();
}

export const REPO_ROOT = findRoot();

export interface Vector {
  hex: string;
  type: string;
  direction: string;
  version: string;
  source: string;
  kind: string;
  crc_ok: boolean;
  crc_note?: string;
  crc_expected_wire: string;
  length_field: number;
  length_ok: boolean;
  seq_bytes: string;
  encrypt_flag: string;
  body_len: number;
  body_len_matches_spec: boolean;
  decoded?: Record<string, unknown>;
  notes?: string;
}

/** Real frames from real piles and public projects (the reference set the codec was written from). */
export function loadVectors(): Vector[] {
  return JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'test', 'fixtures', 'vectors.json'), 'utf8'));
}
