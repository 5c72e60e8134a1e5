import type { Catalog } from '../catalog/model.js';
import { tableKey } from '../catalog/model.js';

/** One service's new database, as the rules of its tables see it. */
export interface RuleTarget {
  service: string;
  database: string;
  /** Keys of the tables it gets (moved and copied, partitions included). */
  tables: ReadonlySet<string>;
  /** Keys of the views it gets. */
  views: ReadonlySet<string>;
}

/**
 * A rule (CREATE RULE) of a table a service gets whose actions name a table or view that
 * database will not have: the rule cannot be made there (and a table's rules go with it),
 * so the plan is blocked, naming rule, table and what it names. Pure.
 */
export function ruleProblems(catalog: Pick<Catalog, 'tables'>, targets: readonly RuleTarget[]): string[] {
  const byKey = new Map(catalog.tables.map((t) => [tableKey(t), t]));
  const out: string[] = [];
  for (const target of targets) {
    for (const key of [...target.tables].sort()) {
      for (const rule of byKey.get(key)?.rules ?? []) {
        const away = rule.references.filter((r) => !target.tables.has(r) && !target.views.has(r));
        if (away.length === 0) continue;
        out.push(
          `rule ${rule.name} on ${key} names ${away.join(', ')}, which ${target.database} (${target.service}) will not have: a rule cannot reach another database. ` +
            `Move ${away.length === 1 ? 'that table' : 'those tables'} with ${key}, or drop or rewrite the rule in the source before the split`,
        );
      }
    }
  }
  return out;
}
