import type { Catalog, FunctionDef, QualifiedName } from '../catalog/model.js';
import { functionKey, routineNoun, tableKey } from '../catalog/model.js';
import { dependencyClosure, type Closure } from '../catalog/closure.js';
import type { LeftBehindObject, PlannedObject } from './model.js';
import { carriable } from './publications.js';

/** What one service's database gets: its closure (types, functions, sequences) and its views. */
export interface ServiceObjects {
  service: string;
  database: string;
  closure: Closure;
  views: string[];
  /** Owned table keys, partitions included: the tables its functions may write to. */
  owned: Set<string>;
  /** Every table key its database gets (owned and copied). */
  tables: Set<string>;
}

export interface ObjectAccount {
  byService: Map<string, PlannedObject[]>;
  leftBehind: LeftBehindObject[];
  warnings: string[];
  /** Blocking problems: a function whose signature uses the row type of a table or view its database does not get. */
  errors: string[];
}

interface Entry {
  kind: PlannedObject['kind'];
  name: string;
  key: string;
}

/**
 * Accounts for every function, procedure, aggregate, sequence, type and view of the
 * source schemas (SPEC §1): each is moved (one service's database gets it), copied
 * (several do) or left in the source, and what is left is named in a warning.
 * Sequences owned by a table that stays in the source stay with it (listed, not
 * warned about). Also warns about every carried function whose body writes to a
 * table that its database does not own.
 */
export function accountObjects(
  catalog: Catalog,
  services: ServiceObjects[],
  opts: {
    schemas: string[];
    staying: string[];
    owner: Map<string, string>;
    /** Table key → the earlier split that moved it (SPEC §7): what those tables need went with them. */
    movedBy?: ReadonlyMap<string, string>;
    /** Objects (by key) earlier splits carried into their databases themselves: split that did. */
    objectsMovedBy?: ReadonlyMap<string, string>;
  },
): ObjectAccount {
  const schemas = new Set(opts.schemas);
  const inSchemas = (o: QualifiedName) => schemas.has(o.schema);
  const all: Entry[] = [
    ...catalog.functions.filter(inSchemas).map((f) => ({ kind: routineNoun(f) as PlannedObject['kind'], name: functionKey(f), key: functionKey(f) })),
    ...catalog.types.filter(inSchemas).map((t) => ({ kind: 'type' as const, name: tableKey(t), key: tableKey(t) })),
    ...catalog.sequences.filter(inSchemas).map((s) => ({ kind: 'sequence' as const, name: tableKey(s), key: tableKey(s) })),
    ...catalog.views.filter(inSchemas).map((v) => ({ kind: 'view' as const, name: tableKey(v), key: tableKey(v) })),
  ];
  const carriers = new Map<string, string[]>();
  const carry = (key: string, service: string) => {
    const list = carriers.get(key) ?? [];
    if (!list.includes(service)) list.push(service);
    carriers.set(key, list);
  };
  for (const s of services) {
    for (const t of s.closure.types) carry(tableKey(t), s.service);
    for (const f of s.closure.functions) carry(functionKey(f), s.service);
    for (const q of s.closure.sequences) carry(tableKey(q), s.service);
    for (const v of s.views) carry(v, s.service);
  }
  // Objects of other schemas that carried ones need (Supabase's auth.uid() called by a policy): listed where they go.
  const outside: Entry[] = [
    ...catalog.functions.filter((f) => !inSchemas(f) && carriers.has(functionKey(f))).map((f) => ({ kind: routineNoun(f) as PlannedObject['kind'], name: functionKey(f), key: functionKey(f) })),
    ...catalog.types.filter((t) => !inSchemas(t) && carriers.has(tableKey(t))).map((t) => ({ kind: 'type' as const, name: tableKey(t), key: tableKey(t) })),
    ...catalog.sequences.filter((q) => !inSchemas(q) && carriers.has(tableKey(q))).map((q) => ({ kind: 'sequence' as const, name: tableKey(q), key: tableKey(q) })),
  ];
  const byService = new Map<string, PlannedObject[]>(services.map((s) => [s.service, []]));
  const leftBehind: LeftBehindObject[] = [];
  const staying = new Set(opts.staying);
  const usedByStaying = dependencyClosure(catalog, opts.staying);
  const stayingNeeds = new Set([...usedByStaying.functions.map(functionKey), ...usedByStaying.types.map(tableKey)]);
  const movedBy = opts.movedBy ?? new Map<string, string>();
  const movedNeeds = new Map<string, string>();
  for (const split of new Set(movedBy.values())) {
    const c = dependencyClosure(catalog, [...movedBy].filter(([, s]) => s === split).map(([t]) => t));
    for (const k of [...c.functions.map(functionKey), ...c.types.map(tableKey), ...c.sequences.map(tableKey)]) if (!movedNeeds.has(k)) movedNeeds.set(k, split);
  }
  const viewSplit = (key: string): string | undefined => {
    const v = catalog.views.find((x) => tableKey(x) === key);
    const splits = new Set((v?.dependsOn ?? []).map((d) => movedBy.get(d)));
    const only = splits.size === 1 ? [...splits][0] : undefined;
    return only ?? undefined;
  };
  const sequenceOwner = new Map(catalog.sequences.map((s) => [tableKey(s), s.ownedBy ? tableKey(s.ownedBy.table) : null]));
  const warned: string[] = [];
  const warnedViews: string[] = [];
  const movedReads = viewMovedReads(catalog, opts.owner);
  for (const e of [...all, ...outside]) {
    const list = carriers.get(e.key);
    if (list && list.length > 0) {
      for (const svc of list) {
        byService.get(svc)!.push({
          kind: e.kind,
          name: e.name,
          placement: list.length > 1 ? 'copied' : 'moved',
          ...(list.length > 1 ? { services: list } : {}),
        });
      }
      continue;
    }
    const table = e.kind === 'sequence' ? sequenceOwner.get(e.key) : null;
    const earlier = (table ? movedBy.get(table) : undefined) ?? movedNeeds.get(e.key) ?? opts.objectsMovedBy?.get(e.key) ?? (e.kind === 'view' ? viewSplit(e.key) : undefined);
    if (earlier !== undefined) {
      leftBehind.push({ kind: e.kind, name: e.name, reason: `went with the tables split ${earlier} moved (their backup stays in the source)` });
      continue;
    }
    if (table && staying.has(table)) {
      leftBehind.push({ kind: e.kind, name: e.name, reason: `owned by ${table}, which stays in the source` });
      continue;
    }
    const reason = stayingNeeds.has(e.key)
      ? 'used only by tables that stay in the source'
      : e.kind === 'view'
        ? leftViewReason(movedReads(e.key), opts.owner)
        : 'no moved table, view or function needs it';
    leftBehind.push({ kind: e.kind, name: e.name, reason });
    if (e.kind === 'view') warnedViews.push(e.name);
    else warned.push(`${e.kind} ${e.name}`);
  }
  const warnings: string[] = [];
  if (warned.length > 0) {
    warnings.push(
      `left in the source, in no service's database: ${warned.join(', ')}; to give one to a service, list it under services.<name>.objects`,
    );
  }
  // A view that reads moved tables gets its own warning (leftObjectWarnings), which says more.
  const quietViews = warnedViews.filter((v) => movedReads(v).length === 0);
  if (quietViews.length > 0) {
    warnings.push(
      `view${quietViews.length > 1 ? 's' : ''} left in the source, in no service's database: ${quietViews.join(', ')} ` +
        `(ignored, or reading only tables that stay there); a view moves with the service that owns every table it reads`,
    );
  }
  warnings.push(...leftObjectWarnings(catalog, leftBehind, opts.owner));
  const errors: string[] = [];
  for (const s of services) {
    for (const f of s.closure.functions) {
      warnings.push(...writeWarnings(f, s, opts.owner), ...readWarnings(f, s, opts.owner));
      for (const t of (f.rowTypes ?? []).filter((k) => !s.tables.has(k) && !s.views.includes(k))) {
        errors.push(
          `${routineNoun(f)} ${functionKey(f)} (in ${s.database}, for ${s.service}) uses the row type of ${t}, which ${s.database} does not get, ` +
            `so it cannot be created there: give ${t} to ${s.service}, or remove what brings the function there (its objects: entry)`,
        );
      }
    }
  }
  for (const s of services) {
    const dynamic = s.closure.functions.filter((f) => f.body?.dynamic).map((f) => `${routineNoun(f)} ${functionKey(f)}`);
    if (dynamic.length === 0) continue;
    warnings.push(
      `${dynamic.join(', ')} (in ${s.database}, for ${s.service}) run${dynamic.length > 1 ? '' : 's'} SQL built at run time (EXECUTE …): ` +
        `the tables that SQL names cannot be checked; one that ${s.database} does not get fails there with "relation … does not exist"`,
    );
  }
  warnings.push(...publicationWarnings(catalog, opts.owner));
  return { byService, leftBehind, warnings, errors };
}

/**
 * A publication of the source that publishes moved tables is made again in each service
 * database that gets some of them (src/plan/publications.ts), over those tables only; what
 * reads it (a subscription, a change-data-capture tool, Supabase Realtime) must now read
 * it there. One warning per publication, naming its moved tables by service. A publication
 * of a snapshot that does not say how it was made is not carried, and the warning says so.
 */
function publicationWarnings(catalog: Catalog, owner: Map<string, string>): string[] {
  const out: string[] = [];
  for (const p of catalog.publications ?? []) {
    const byService = new Map<string, string[]>();
    for (const t of p.tables) {
      const o = owner.get(t);
      if (o) byService.set(o, [...(byService.get(o) ?? []), t]);
    }
    if (byService.size === 0) continue;
    const named = [...byService].map(([svc, tables]) => `${tables.join(', ')} (${svc})`).join(', ');
    const kind = p.allTables ? ' (FOR ALL TABLES)' : '';
    out.push(
      carriable(p)
        ? `publication ${p.name}${kind} on the source publishes ${named}: it is made again in the database of ${[...byService.keys()].join(', ')}, over those tables; ` +
            `what reads it (a subscription, a change-data-capture tool, Supabase Realtime) must now read it there, as the source's sees no change made in the new databases`
        : `publication ${p.name}${kind} on the source publishes ${named}: the new databases get no publication (planned from a snapshot that does not say how it was made), ` +
            `so what reads it (a subscription, a change-data-capture tool, Supabase Realtime) sees no change made there; ` +
            `plan against the live source, or create it in each service database that needs it (CREATE PUBLICATION ${p.name} FOR TABLE …)`,
    );
  }
  return out;
}

/**
 * A function or view left in the source that reads (a function: or writes) moved tables: from the fence on
 * it reads their backup, which no longer changes (the services write to their new
 * databases), a write to them fails at the fence, and once `retention prune` drops them it
 * fails. Nothing else would say so: it is in no service's database, so no other warning
 * looks at it (Lemmy's `r.site_aggregates_activity`, run by its scheduler against the source).
 */
function leftObjectWarnings(catalog: Catalog, left: readonly LeftBehindObject[], owner: ReadonlyMap<string, string>): string[] {
  const leftKeys = new Set(left.map((l) => l.name));
  const out: string[] = [];
  for (const f of catalog.functions) {
    const key = functionKey(f);
    if (!leftKeys.has(key)) continue;
    const named = (tables: readonly string[] | undefined) => [...new Set(tables ?? [])].filter((t) => owner.has(t)).sort();
    const reads = named(f.body?.reads);
    const writes = named(f.body?.writes);
    if (reads.length + writes.length === 0) continue;
    const list = (ts: string[]) => ts.map((t) => `${t} (${owner.get(t)})`).join(', ');
    const services = [...new Set([...reads, ...writes].map((t) => owner.get(t)!))];
    out.push(
      `${routineNoun(f)} ${key}, left in the source, ${[reads.length ? `reads ${list(reads)}` : '', writes.length ? `writes to ${list(writes)}` : ''].filter(Boolean).join(' and ')}: ` +
        `from the fence on, in the source it ${reads.length ? 'reads their backup, which no longer changes (the services write to their new databases)' : ''}${reads.length && writes.length ? ', and ' : ''}${writes.length ? 'fails at the fence on each write' : ''}; ` +
        `once retention prune drops them it fails; move it with services.${services[0]}.objects${services.length > 1 ? ` (it uses tables of ${services.join(', ')})` : ''}, or run what calls it against the new database${services.length > 1 ? 's' : ''}`,
    );
  }
  // A view left in the source over moved tables shows their frozen backup, and keeps prune from dropping them.
  const movedReads = viewMovedReads(catalog, owner);
  for (const l of left) {
    if (l.kind !== 'view') continue;
    const moved = movedReads(l.name);
    if (moved.length === 0) continue;
    out.push(
      `view ${l.name}, left in the source, reads ${moved.map((t) => `${t} (${owner.get(t)})`).join(', ')}: from the fence on it shows their backup, which no longer changes, ` +
        `and retention prune refuses to drop them while it reads them: drop it, or rebuild it where its tables went`,
    );
  }
  return out;
}

/** Why a view stays in the source, from the moved tables it reads. */
function leftViewReason(moved: readonly string[], owner: ReadonlyMap<string, string>): string {
  if (moved.length === 0) return 'ignored, or reads only tables and views that stay in the source';
  const services = [...new Set(moved.map((t) => owner.get(t)!))].sort();
  return services.length > 1
    ? `ignored: it reads tables of ${services.join(' and ')}`
    : `ignored, or also reads tables that stay in the source`;
}

/** The moved tables a view reads, through the views it reads, sorted. */
function viewMovedReads(catalog: Catalog, owner: ReadonlyMap<string, string>): (view: string) => string[] {
  const views = new Map(catalog.views.map((v) => [tableKey(v), v]));
  const reads = (key: string, seen: Set<string>): string[] =>
    (views.get(key)?.dependsOn ?? []).flatMap((d) => (views.has(d) ? (seen.has(d) ? [] : (seen.add(d), reads(d, seen))) : owner.has(d) ? [d] : []));
  return (view) => [...new Set(reads(view, new Set([view])))].sort();
}

/**
 * Extensions of the source that no service database gets (`carried`: those some database
 * gets, for its objects or its text search dictionaries): a service's own queries that call
 * their functions fail there.
 */
export function extensionWarnings(catalog: Catalog, carried: ReadonlySet<string>): string[] {
  const left = (catalog.installedExtensions ?? []).filter((e) => !carried.has(e.name));
  if (left.length === 0) return [];
  const one = left.length === 1;
  return [
    `no service database of this split gets extension${one ? '' : 's'} ${left.map((e) => e.name).join(', ')} of the source: nothing it moves needs ${one ? 'it' : 'them'}; ` +
      `a service whose own queries call ${one ? 'its' : 'their'} functions needs CREATE EXTENSION in its database`,
  ];
}

function writeWarnings(f: FunctionDef, s: ServiceObjects, owner: Map<string, string>): string[] {
  const outside = (f.body?.outside ?? []).map(
    (t) =>
      `${routineNoun(f)} ${functionKey(f)} (in ${s.database}, for ${s.service}) writes to table ${t}, in schema ${t.split('.')[0]}, which is not in source.schemas: ` +
      `no service database gets it, so there that write fails with "relation does not exist", and the statement that ran the function with it; ` +
      `add the schema to source.schemas and give ${t} to ${s.service}, or change the function`,
  );
  return [...outside, ...(f.body?.writes ?? [])
    .filter((t) => !s.owned.has(t))
    .map((t) => {
      const o = owner.get(t);
      const where = o ? `owned by ${o}` : 'left in the source';
      // A table the database gets as a copy (`copies`) exists there: the write succeeds, into the copy.
      if (s.tables.has(t)) {
        return (
          `${routineNoun(f)} ${functionKey(f)} (in ${s.database}, for ${s.service}) writes to table ${t}, which is ${where} and only copied into ${s.database}: ` +
          `there the copy is read-only, so that write fails, and the statement that ran the function with it; give ${t} to ${s.service}, or change the function`
        );
      }
      return (
        `${routineNoun(f)} ${functionKey(f)} (in ${s.database}, for ${s.service}) writes to table ${t}, which is ${where}: ` +
        `there that write fails with "relation does not exist"; give ${t} to ${s.service}, or change the function`
      );
    })];
}

/**
 * One line per function that reads tables its database does not get: it is created
 * there (bodies are not checked against tables), and fails the first time it runs.
 */
function readWarnings(f: FunctionDef, s: ServiceObjects, owner: Map<string, string>): string[] {
  const missing = (f.body?.reads ?? []).filter((t) => !s.tables.has(t));
  if (missing.length === 0) return [];
  const byWhere = new Map<string, string[]>();
  for (const t of missing) {
    const o = owner.get(t);
    const where = o ? `owned by ${o}` : 'left in the source';
    byWhere.set(where, [...(byWhere.get(where) ?? []), t]);
  }
  const named = [...byWhere].map(([where, tables]) => `${tables.join(', ')} (${where})`).join(', ');
  return [
    `${routineNoun(f)} ${functionKey(f)} (in ${s.database}, for ${s.service}) reads ${missing.length === 1 ? 'table' : 'tables'} ${named}, ` +
      `which ${s.database} does not get: there it fails with "relation does not exist" when it runs; ` +
      `give ${missing.length === 1 ? 'that table' : 'those tables'} to ${s.service}, read ${missing.length === 1 ? 'it' : 'them'} through the owning service, or change the function`,
  ];
}
