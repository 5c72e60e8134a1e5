import type { Catalog, Rule } from '../catalog/model.js';
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

/** The events (INSERT, UPDATE, DELETE) a DO INSTEAD rule of `rule` rewrites, read from its definition. */
export function insteadEvents(rule: Pick<Rule, 'definition'>): string[] {
  const m = /\bON\s+(INSERT|UPDATE|DELETE|SELECT)\s+TO\s+.*?\bDO\s+INSTEAD\b/is.exec(rule.definition);
  return m ? [m[1]!.toUpperCase()] : [];
}

/**
 * A moved table's DO INSTEAD rules stand in front of its fence in the source: a stale
 * writer's statement of that kind is rewritten (to nothing, or to another table) and never
 * meets the fence's trigger. One warning per table, naming rules and events. Pure.
 */
export function ruleFenceWarnings(catalog: Pick<Catalog, 'tables'>, moved: readonly string[]): string[] {
  const byKey = new Map(catalog.tables.map((t) => [tableKey(t), t]));
  const out: string[] = [];
  for (const key of [...new Set(moved)].sort()) {
    const rules = (byKey.get(key)?.rules ?? []).filter((r) => r.enabled !== 'D' && insteadEvents(r).length > 0);
    if (rules.length === 0) continue;
    const list = rules.map((r) => `${r.name} (${insteadEvents(r).join(', ')})`).join(', ');
    out.push(
      `${key} has DO INSTEAD rule${rules.length === 1 ? '' : 's'} ${list}: once it is fenced, such a statement in the source is rewritten by the rule and never meets the fence, ` +
        'so a client still writing there is not refused (the rule decides what happens); drop the rule in the source after the split if stale writers must fail',
    );
  }
  return out;
}

/** pg_rewrite.ev_enabled of the rules a session with session_replication_role = replica meets: REPLICA and ALWAYS. */
const FIRES_AS_REPLICA = new Set(['R', 'A']);

/**
 * Online mode fills a denormalized column at cutover with an UPDATE in the new database, in
 * a session with session_replication_role = replica (no trigger fires, as in a copy): a
 * DO INSTEAD rule on UPDATE enabled REPLICA or ALWAYS still rewrites it, and the column
 * would be left as it was, after the fence. Blocks the plan, naming rule, table and column,
 * with the fix. Pure.
 */
export function fillRuleProblems(catalog: Pick<Catalog, 'tables'>, fills: ReadonlyArray<{ table: string; column: string }>): string[] {
  const byKey = new Map(catalog.tables.map((t) => [tableKey(t), t]));
  const out: string[] = [];
  for (const f of fills) {
    for (const rule of byKey.get(f.table)?.rules ?? []) {
      if (!FIRES_AS_REPLICA.has(rule.enabled) || !insteadEvents(rule).includes('UPDATE')) continue;
      out.push(
        `rule ${rule.name} on ${f.table} (DO INSTEAD on UPDATE, enabled ${rule.enabled === 'A' ? 'ALWAYS' : 'REPLICA'}) would rewrite the UPDATE that fills its denormalized column ${f.column} at cutover, ` +
          `leaving the column unfilled after the fence: make it an ordinary rule before the split (ALTER TABLE ${f.table} ENABLE RULE ${rule.name}: the fill runs as a replica, which such a rule does not reach), or split offline (the copy fills the column)`,
      );
    }
  }
  return out;
}
