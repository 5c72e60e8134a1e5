import { describe, expect, it } from 'vitest';
import { parseManifest } from '../../../src/manifest/load.js';
import { resolveManifest } from '../../../src/manifest/resolve.js';
import { buildPlan } from '../../../src/plan/build.js';
import { CatalogBuilder } from '../manifest/catalog-builder.js';
import { fillRuleProblems, ruleProblems } from '../../../src/plan/table-rules.js';
import type { Rule, Table } from '../../../src/catalog/model.js';

const rule = (name: string, references: string[]): Rule => ({ name, definition: `CREATE RULE ${name} AS ON DELETE TO public.items DO ALSO NOTIFY items`, enabled: 'O', comment: null, references });
const table = (name: string, rules: Rule[] = []): Pick<Table, 'schema' | 'name' | 'rules'> => ({ schema: 'public', name, rules });

describe('ruleProblems: a rule must find what it names in its table\'s new database', () => {
  const catalog = { tables: [table('items', [rule('items_audit', ['public.audit']), rule('items_view', ['public.items_summary'])]), table('audit'), table('orders')] as Table[] };

  it('blocks a rule naming a table another database gets, naming rule, table and what it names', () => {
    expect(ruleProblems(catalog, [{ service: 'items-service', database: 'items', tables: new Set(['public.items']), views: new Set(['public.items_summary']) }])).toEqual([
      'rule items_audit on public.items names public.audit, which items (items-service) will not have: a rule cannot reach another database. Move that table with public.items, or drop or rewrite the rule in the source before the split',
    ]);
  });

  it('accepts rules whose tables and views go along', () => {
    expect(ruleProblems(catalog, [{ service: 'items-service', database: 'items', tables: new Set(['public.items', 'public.audit']), views: new Set(['public.items_summary']) }])).toEqual([]);
  });
});

describe("fillRuleProblems: online mode fills a denormalized column with an UPDATE that a rule enabled for replicas rewrites", () => {
  const withRule = (enabled: string, event = 'UPDATE'): Pick<Table, 'schema' | 'name' | 'rules'> =>
    table('devices', [{ name: 'devices_frozen', definition: `CREATE RULE devices_frozen AS ON ${event} TO public.devices DO INSTEAD NOTHING`, enabled, comment: null, references: [] }]);

  it('blocks a DO INSTEAD rule on UPDATE enabled ALWAYS or REPLICA, naming rule, table, column and the fix', () => {
    for (const [enabled, word] of [['A', 'ALWAYS'], ['R', 'REPLICA']] as const) {
      expect(fillRuleProblems({ tables: [withRule(enabled)] as Table[] }, [{ table: 'public.devices', column: 'user_name' }])).toEqual([
        `rule devices_frozen on public.devices (DO INSTEAD on UPDATE, enabled ${word}) would rewrite the UPDATE that fills its denormalized column user_name at cutover, ` +
          'leaving the column unfilled after the fence: make it an ordinary rule before the split (ALTER TABLE public.devices ENABLE RULE devices_frozen: the fill runs as a replica, which such a rule does not reach), or split offline (the copy fills the column)',
      ]);
    }
  });

  it('lets an ordinary or disabled rule, a rule on another event, and a table without a fill pass', () => {
    for (const t of [withRule('O'), withRule('D'), withRule('A', 'DELETE')]) expect(fillRuleProblems({ tables: [t] as Table[] }, [{ table: 'public.devices', column: 'user_name' }])).toEqual([]);
    expect(fillRuleProblems({ tables: [withRule('A')] as Table[] }, [])).toEqual([]);
  });
});

describe('the plan of an online split with such a rule on a table it fills', () => {
  const text = (mode: string) => `version: 1
name: rules
mode: ${mode}
source: { url: "\${SRC}" }
services:
  device-service:
    database: device_db
    tables: [devices]
  user-service:
    database: user_db
    tables: [users]
`;
  const planOf = (mode: string) => {
    const catalog = new CatalogBuilder()
      .table('users', { columns: ['id', 'username:text'] })
      .table('devices', { columns: ['id', 'user_id'], fks: [{ columns: ['user_id'], references: 'users' }] })
      .build();
    catalog.tables.find((t) => t.name === 'devices')!.rules = [{ name: 'devices_frozen', definition: 'CREATE RULE devices_frozen AS ON UPDATE TO public.devices DO INSTEAD NOTHING', enabled: 'A', comment: null, references: [] }];
    const manifest = parseManifest(text(mode), 'split.yaml');
    const resolved = resolveManifest(manifest, catalog, 'split.yaml');
    const fill = { table: 'public.devices', column: 'user_name', fromTable: 'public.users', fromColumn: 'username', type: 'text', on: [{ local: 'user_id', remote: 'id' }] };
    return buildPlan({
      manifest,
      manifestText: text(mode),
      manifestPath: 'split.yaml',
      catalog,
      services: resolved.services.map((s) => ({ spec: s.spec, tables: s.tables, copies: s.copies, views: s.views, denormalize: s.spec.name === 'device-service' ? [fill] : [] })),
      ignored: [],
      warnings: [],
      configEdits: {},
    });
  };

  it('is blocked online (the cutover fills with an UPDATE), not offline (the copy fills the column)', () => {
    expect(planOf('online').errors).toContainEqual(expect.stringContaining('rule devices_frozen on public.devices (DO INSTEAD on UPDATE, enabled ALWAYS) would rewrite the UPDATE that fills its denormalized column user_name at cutover'));
    expect(planOf('offline').errors.join('\n')).not.toContain('devices_frozen');
  });
});
