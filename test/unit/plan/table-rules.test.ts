import { describe, expect, it } from 'vitest';
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
