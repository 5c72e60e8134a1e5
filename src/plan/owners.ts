import type { PrivilegeStatement } from '../catalog/ddl-privileges.js';
import type { Closure } from '../catalog/closure.js';
import type { Catalog } from '../catalog/model.js';
import { tableKey } from '../catalog/model.js';
import { ident, qname } from '../pg/quote.js';

/** What a service database holds: its tables (partitions included) and views by key, what they need, the schemas made for them. */
export interface OwnedScope {
  database: string;
  tables: readonly string[];
  views: readonly string[];
  closure: Closure;
  schemas: readonly string[];
}

/**
 * For a service without a role of its own: each object of its new database handed to the
 * role that owns it in the source (`owners`, src/catalog/object-owners.ts), the database
 * itself to the source database's owner, as `pg_restore` keeps owners. Without it the
 * application role that owned its tables in the source could connect to the new database
 * and read none of them. Superusers' objects stay with the tool's role. Each statement
 * names its role (`grantee`): a grant step runs them only where it exists. The database
 * first (it owns the `public` schema through pg_database_owner), then schemas, types,
 * functions, sequences not owned by a column (those follow their table), tables (each with its
 * extended statistics), views.
 */
export function ownershipStatements(catalog: Catalog, scope: OwnedScope, owners: Readonly<Record<string, string>>): PrivilegeStatement[] {
  const out: PrivilegeStatement[] = [];
  const add = (key: string, sql: (owner: string) => string) => {
    const owner = owners[key];
    if (owner) out.push({ grantee: owner, sql: sql(ident(owner)) });
  };
  add('database', (o) => `ALTER DATABASE ${ident(scope.database)} OWNER TO ${o}`);
  for (const s of scope.schemas) if (s !== 'public') add(`schema ${s}`, (o) => `ALTER SCHEMA ${ident(s)} OWNER TO ${o}`);
  for (const t of scope.closure.types) add(`type ${tableKey(t)}`, (o) => `ALTER ${t.kind === 'domain' ? 'DOMAIN' : 'TYPE'} ${qname(t)} OWNER TO ${o}`);
  for (const f of scope.closure.functions) {
    const word = f.kind === 'p' ? 'PROCEDURE' : f.kind === 'a' ? 'AGGREGATE' : 'FUNCTION';
    const args = f.kind === 'a' && f.identityArgs === '' ? '*' : f.identityArgs;
    add(`function ${tableKey(f)}(${f.identityArgs})`, (o) => `ALTER ${word} ${qname(f)}(${args}) OWNER TO ${o}`);
  }
  for (const s of scope.closure.sequences) if (!s.ownedBy) add(`relation ${tableKey(s)}`, (o) => `ALTER SEQUENCE ${qname(s)} OWNER TO ${o}`);
  const views = new Map(catalog.views.map((v) => [tableKey(v), v]));
  const tables = new Map(catalog.tables.map((t) => [tableKey(t), t]));
  for (const k of [...new Set(scope.tables)].sort()) {
    const t = tables.get(k);
    if (t) add(`relation ${k}`, (o) => `ALTER TABLE ${qname(t)} OWNER TO ${o}`);
    for (const x of t?.statistics ?? []) add(`statistics ${tableKey(x)}`, (o) => `ALTER STATISTICS ${qname(x)} OWNER TO ${o}`);
  }
  for (const k of [...new Set(scope.views)].sort()) {
    const v = views.get(k);
    if (v) add(`relation ${k}`, (o) => `ALTER ${v.materialized ? 'MATERIALIZED VIEW' : 'VIEW'} ${qname(v)} OWNER TO ${o}`);
  }
  return out;
}
