import type { Catalog, FunctionDef, Privileges } from './model.js';
import { tableKey } from './model.js';
import type { Closure } from './closure.js';
import { ident, literal, qname } from '../pg/quote.js';

/** One GRANT or REVOKE; `grantee` null is PUBLIC (always there), else a role that may be missing on a target. */
export interface PrivilegeStatement {
  grantee: string | null;
  sql: string;
}

const who = (grantee: string | null): string => (grantee === null ? 'PUBLIC' : ident(grantee));

/** `ON <what>` of a routine: aggregates are granted as functions (as pg_dump does), with their argument types. */
function routineTarget(f: FunctionDef): string {
  const word = f.kind === 'p' ? 'PROCEDURE' : 'FUNCTION';
  // regprocedure prints "schema"."name"(argument types), read with quote_all_identifiers.
  if (f.signature?.startsWith(`${qname(f)}(`)) return `${word} ${f.signature}`;
  return `${word} ${qname(f)}(${f.identityArgs})`;
}

function statementsFor(target: string, p: Privileges | undefined): PrivilegeStatement[] {
  if (!p) return [];
  const out: PrivilegeStatement[] = [];
  if (p.revokedFromPublic.length > 0) out.push({ grantee: null, sql: `REVOKE ${p.revokedFromPublic.join(', ')} ON ${target} FROM PUBLIC` });
  for (const g of p.grants) {
    const plain = g.privileges.filter((x) => !g.grantable.includes(x));
    if (plain.length > 0) out.push({ grantee: g.grantee, sql: `GRANT ${plain.join(', ')} ON ${target} TO ${who(g.grantee)}` });
    if (g.grantable.length > 0) {
      out.push({ grantee: g.grantee, sql: `GRANT ${g.grantable.join(', ')} ON ${target} TO ${who(g.grantee)} WITH GRANT OPTION` });
    }
  }
  for (const [column, grants] of Object.entries(p.columns ?? {})) {
    for (const g of grants) {
      const cols = (list: string[]) => list.map((x) => `${x} (${ident(column)})`).join(', ');
      const plain = g.privileges.filter((x) => !g.grantable.includes(x));
      const on = target.replace(/^(VIEW|MATERIALIZED VIEW) /, 'TABLE ');
      if (plain.length > 0) out.push({ grantee: g.grantee, sql: `GRANT ${cols(plain)} ON ${on} TO ${who(g.grantee)}` });
      if (g.grantable.length > 0) {
        out.push({ grantee: g.grantee, sql: `GRANT ${cols(g.grantable)} ON ${on} TO ${who(g.grantee)} WITH GRANT OPTION` });
      }
    }
  }
  return out;
}

/** What a database gets: its tables and views (by key), what they need (`closure`), and the schemas it creates. */
export interface PrivilegeScope {
  tables: string[];
  views: string[];
  closure: Closure;
  schemas: string[];
}

/**
 * The GRANTs and REVOKEs that give the objects of one database the privileges they
 * have in the source (tables, columns, views, sequences, functions, procedures,
 * aggregates, types, schemas). Pure; in a stable order (schemas, types, functions,
 * sequences, tables, views).
 */
export function privilegeStatements(catalog: Catalog, scope: PrivilegeScope): PrivilegeStatement[] {
  const tables = new Map(catalog.tables.map((t) => [tableKey(t), t]));
  const views = new Map(catalog.views.map((v) => [tableKey(v), v]));
  const out: PrivilegeStatement[] = [];
  for (const n of catalog.namespaces ?? []) if (scope.schemas.includes(n.name)) out.push(...statementsFor(`SCHEMA ${ident(n.name)}`, n.privileges));
  for (const t of scope.closure.types) out.push(...statementsFor(`TYPE ${qname(t)}`, t.privileges));
  for (const f of scope.closure.functions) out.push(...statementsFor(routineTarget(f), f.privileges));
  for (const s of scope.closure.sequences) out.push(...statementsFor(`SEQUENCE ${qname(s)}`, s.privileges));
  for (const k of [...new Set(scope.tables)].sort()) {
    const t = tables.get(k);
    if (t) out.push(...statementsFor(`TABLE ${qname(t)}`, t.privileges));
  }
  for (const k of [...new Set(scope.views)].sort()) {
    const v = views.get(k);
    if (v) out.push(...statementsFor(`TABLE ${qname(v)}`, v.privileges));
  }
  return out;
}

/** Roles named by these statements (PUBLIC left out), sorted. */
export function granteesOf(statements: PrivilegeStatement[]): string[] {
  return [...new Set(statements.flatMap((s) => (s.grantee === null ? [] : [s.grantee])))].sort();
}

/**
 * The statements as they run in a `grant` step, in their order (the ACL's order is
 * what pg_dump shows): PUBLIC's as they are; each run of one role's statements in a
 * block that runs only when the role exists on the target at that moment (checked
 * again on every run, so a rerun after the role was created grants it).
 */
export function guardedPrivilegeSql(statements: PrivilegeStatement[], missing = 'its privileges are not carried', opts: { sessionGrantsAfter?: boolean } = {}): string[] {
  const out: string[] = [];
  for (let i = 0; i < statements.length; ) {
    const role = statements[i]!.grantee;
    let j = i;
    while (j < statements.length && statements[j]!.grantee === role) j++;
    const run = statements.slice(i, j);
    i = j;
    if (role === null) {
      out.push(...run.map((s) => s.sql));
      continue;
    }
    // EXECUTE of a literal: PL/pgSQL never reads the names inside as its own variables.
    // The session role's own grants wait for sessionRoleGrantsSql (after the owners change), when asked.
    const later = (s: PrivilegeStatement) => opts.sessionGrantsAfter === true && /^GRANT /.test(s.sql);
    const body = run.map((s) => (later(s) ? `    IF current_user <> ${literal(role)} THEN EXECUTE ${literal(s.sql)}; END IF;` : `    EXECUTE ${literal(s.sql)};`));
    let tag = 'cps';
    while (body.some((l) => l.includes(`$${tag}$`))) tag += '_';
    out.push(
      `DO $${tag}$\nBEGIN\n  IF EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = ${literal(role)}) THEN\n${body.join('\n')}\n  ELSE\n    RAISE NOTICE '%', ${literal(`role ${role} does not exist on this server: ${missing}`)};\n  END IF;\nEND $${tag}$`,
    );
  }
  return out;
}

/**
 * The grants to the role running apply, again, once the objects have their owners: the
 * privileges are granted while that role still owns everything, and ALTER … OWNER then
 * folds an owner's own entries into the new owner's, so a grant the source made to it
 * (a managed server's admin role) would be lost. Each runs only when the session's role
 * is that grantee; one the role may not make is said in a warning, never failing the step.
 */
export function sessionRoleGrantsSql(statements: PrivilegeStatement[]): string[] {
  const grants = statements.filter((s) => s.grantee !== null && /^GRANT /.test(s.sql));
  if (grants.length === 0) return [];
  const body = grants.map(
    (s) =>
      `  IF current_user = ${literal(s.grantee!)} THEN\n    BEGIN\n      EXECUTE ${literal(s.sql)};\n    EXCEPTION WHEN insufficient_privilege THEN\n      RAISE WARNING '%', ${literal(`not carried (the owner's member may not grant it): ${s.sql}`)};\n    END;\n  END IF;`,
  );
  let tag = 'cps';
  while (body.some((l) => l.includes(`$${tag}$`))) tag += '_';
  return [`DO $${tag}$\nBEGIN\n${body.join('\n')}\nEND $${tag}$`];
}
