import { describe, expect, it } from 'vitest';
import { ruleProblems } from '../../../src/plan/table-rules.js';
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
