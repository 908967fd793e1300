/** Checks shared by every node's editor file (docs/style.md): literal registration, category, colour, icon, template. */
import * as fs from 'fs';
import * as path from 'path';
import should from 'should';
import { REPO_ROOT } from './repo';

export const PACK_COLOUR = '#8FD1A8';

/** Asserts the conventions on nodes/<type>.html and returns its text for node-specific checks. */
export function checkEditorConventions(type: string): string {
  const html = fs.readFileSync(path.join(REPO_ROOT, 'nodes', `${type}.html`), 'utf8');
  should(html).containEql(`RED.nodes.registerType('${type}', {`);
  should(html).containEql("category: 'ykc'");
  should(html).containEql(`color: '${PACK_COLOUR}'`);
  should(html).containEql(`icon: '${type}.svg'`);
  should(fs.existsSync(path.join(REPO_ROOT, 'icons', `${type}.svg`))).be.true();
  should(html).containEql(`data-template-name="${type}"`);
  return html;
}
