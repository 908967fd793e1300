/**
 * Every shipped example, whoever wrote it: well-formed, explained in English and Chinese, loads
 * into a real Node-RED runtime, and together they use every node of the pack (flow-library N02).
 */
import * as fs from 'fs';
import should from 'should';
import { EXAMPLES_DIR, FlowNode, helper, loadExample, packNodeTypes, readExample } from './harness';

const CONFIG_TYPES = new Set(['ykc-server']);
const CJK = /[\u4e00-\u9fff]/;
const SHARED_GATEWAY = 'ykc-gateway-8768';
const files = fs
  .readdirSync(EXAMPLES_DIR)
  .filter((f) => f.endsWith('.json'))
  .sort();

describe('all examples', function () {
  this.timeout(10_000);

  it('together use every non-config node of the pack', () => {
    const used = new Set(files.flatMap((f) => readExample(f).map((n) => n.type)));
    const unused = Object.keys(packNodeTypes()).filter((t) => !CONFIG_TYPES.has(t) && !used.has(t));
    should(unused).eql([], `no example uses ${unused.join(', ')}`);
  });

  it('can be imported next to each other and the demo: no id in two examples but the shared gateway config node', () => {
    const owner = new Map<string, string>();
    const clashes: string[] = [];
    for (const f of files) {
      for (const n of readExample(f)) {
        const first = owner.get(n.id);
        if (first && n.id !== SHARED_GATEWAY) clashes.push(`${n.id} in ${first} and ${f}`);
        owner.set(n.id, first ?? f);
      }
    }
    should(clashes).eql([]);
  });

  for (const file of files) {
    describe(file, () => {
      const flow: FlowNode[] = readExample(file);

      it('is well formed: unique ids, wires and config references that resolve', () => {
        const ids = new Map(flow.map((n) => [n.id, n]));
        should(ids.size).equal(flow.length, 'duplicate ids');
        for (const n of flow) {
          for (const port of n.wires ?? []) for (const target of port) should(ids.has(target)).equal(true, `${n.id} is wired to a missing ${target}`);
          // References to config nodes (not the same names in config nodes themselves, e.g. mqtt-broker.broker = a host).
          if (!n.z) continue;
          for (const key of ['server', 'broker', 'mydb', 'group']) {
            if (typeof n[key] === 'string' && n[key] && !(n.type === 'tcp in' && key === 'server')) should(ids.has(n[key])).equal(true, `${n.id}.${key} → missing ${n[key]}`);
          }
        }
      });

      it('has a tab of its own: every flow node on it, only config nodes outside', () => {
        const tabs = flow.filter((n) => n.type === 'tab');
        should(tabs).have.length(1, 'one tab node');
        should(tabs[0].label).match(CJK).and.match(/[A-Za-z]/);
        const config = (n: FlowNode) => !('wires' in n) && !('x' in n);
        for (const n of flow) if (n.type !== 'tab' && !config(n)) should(n.z).equal(tabs[0].id, `${n.id} (${n.type}) is not on the example's tab`);
        // The gateway is shared on purpose (same id and settings as the demo's), so an import next to the demo reuses it.
        const gateway = flow.find((n) => n.type === 'ykc-server');
        if (gateway) should(gateway.id).equal(SHARED_GATEWAY);
      });

      it('explains itself in a comment node, in English and in Chinese', () => {
        const text = flow
          .filter((n) => n.type === 'comment')
          .map((n) => `${n.name ?? ''}\n${n.info ?? ''}`)
          .join('\n');
        should(text).match(CJK);
        should(text).match(/[A-Za-z]{4,} [A-Za-z]{3,} [A-Za-z]{3,}/);
      });

      it('loads into a real Node-RED runtime, every node created', async () => {
        const ex = await loadExample(file);
        try {
          for (const n of ex.flow) if (n.type !== 'tab' && !CONFIG_TYPES.has(n.type) && n.z) should(helper.getNode(n.id) !== null).equal(true, `${n.id} (${n.type}) not created`);
        } finally {
          await ex.close();
        }
      });
    });
  }
});
