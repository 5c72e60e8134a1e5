import type { Catalog } from '../catalog/model.js';
import { tableKey } from '../catalog/model.js';
import { ManifestError } from '../errors.js';
import { indexCatalog, type Placement } from './catalog-index.js';
import { matchEntry } from './match-entry.js';
import type { Manifest, ManifestProblem, ServiceSpec } from './model.js';
import { yamlScalar } from './names.js';
import { ownerSuggester } from './owner-suggester.js';
import { joinPath, ProblemList } from './problem-list.js';
import { resolveDenormalize } from './resolve-denormalize.js';
import { droppedForeignKeys } from './dropped-foreign-keys.js';
import { placeViews } from './place-views.js';
import { resolveOwnership } from './claims.js';
import { resolveObjects } from './resolve-objects.js';
import { withoutMoved } from './moved-filter.js';
import { describeMoved, type MovedTable } from '../waves/moved-table.js';

/**
 * A manifest matched against a source catalog. Invariants: every table of the
 * source schemas is in `tables`, owned by exactly one service or ignored;
 * partitions follow their partitioned root; a key appears in at most one
 * service's `tables`, and a service never copies what it owns.
 */
export interface ResolvedManifest {
  manifest: Manifest;
  /** In manifest order. */
  services: ResolvedService[];
  /** Facts per table key (`schema.name`), partitions included. */
  tables: Record<string, TableFacts>;
  /** Views that stay in the source: ignored, or reading only tables that stay. */
  sourceViews: string[];
  /** Not errors: `ignore` entries that match nothing. */
  warnings: ManifestProblem[];
  /** Tables earlier splits of the source moved (SPEC §7): in no service and not ignored. */
  moved: MovedTable[];
}

/** Where a table goes. `service` is null exactly when `fate` is 'ignored'. */
export interface TableFacts {
  key: string;
  fate: 'owned' | 'ignored';
  service: string | null;
  /** Services holding a read-only copy. */
  copiedBy: string[];
  /** The partitioned table it belongs to (its topmost ancestor), or null. */
  partitionRoot: string | null;
  /** All its partitions at any depth, parents first. */
  partitions: string[];
  /** Key path of the manifest entry that placed it (for a partition: its root's). */
  entry: string;
}

export interface ResolvedService {
  spec: ServiceSpec;
  name: string;
  database: string;
  server: string;
  role: string | null;
  /** Owned table keys, each partitioned table followed by its partitions. */
  tables: string[];
  /** Copied table keys (with partitions), owned by other services. */
  copies: string[];
  /** Views that move with this service, each after the views it reads. */
  views: string[];
  /** Keys of the functions, sequences and types its `objects:` entries place. */
  objects: string[];
  denormalize: ResolvedDenormalize[];
  /** Foreign keys of its owned and copied tables that cannot be kept. */
  droppedForeignKeys: ResolvedForeignKey[];
}

/** A denormalized column: `table.column` filled from `from` joined on `on`. */
export interface ResolvedDenormalize {
  /** `services.<name>.denormalize[i]` */
  path: string;
  spec: ServiceSpec['denormalize'][number];
  table: string;
  column: string;
  from: { table: string; column: string };
  /** format_type of the source column: the new column's type. */
  type: string;
  typeKey: string | null;
  /** Pairs: a column of `table` equals a key column of `from.table`. Never empty. */
  on: Array<{ local: string; referenced: string }>;
  /** The foreign key that gives the join, when there is one. */
  foreignKey: string | null;
}

export interface ResolvedForeignKey {
  table: string;
  constraint: string;
  columns: string[];
  references: { table: string; columns: string[] };
  /** Owner of the referenced table; null when it is ignored. */
  referencedService: string | null;
  /** cross-service: owned elsewhere; copy: one side is a copy here; ignored: stays in the source. */
  reason: 'cross-service' | 'copy' | 'ignored';
  /** `from` of this service's denormalize entries that rely on this key. */
  denormalizedBy: string[];
}

/**
 * Matches a manifest against the source catalog (SPEC §1) and throws ManifestError
 * with every problem at once. Naming rules: an entry is `name`, `schema.name` or a
 * glob (picomatch) in either part; names match exactly as the source spells them
 * (case included), and a double-quoted part is literal (no glob). An unqualified
 * entry matches in every schema of source.schemas; an exact name found in more
 * than one of them must be qualified. Partitions are never named: a partitioned
 * table carries all its partitions. Views are placed by what they read; `ignore`
 * may also name views. Ignore entries matching nothing are warnings.
 */
export function resolveManifest(manifest: Manifest, catalog: Catalog, file: string, earlier: readonly MovedTable[] = []): ResolvedManifest {
  const problems = new ProblemList(file);
  const warnings = new ProblemList(file);
  const index = indexCatalog(catalog, manifest.source.schemas);
  const shown = (key: string): string => index.display(index.byKey.get(key)!);
  const asYaml = (key: string): string => yamlScalar(shown(key));
  const serviceNames = manifest.services.map((s) => s.name);
  // Earlier waves' tables: no entry takes them (a glob skips them, an exact name is a problem).
  const moved = new Map(earlier.filter((m) => index.byKey.has(m.table)).map((m) => [m.table, m]));
  const movedRoot = (key: string): MovedTable | undefined => moved.get(index.rootOf(key));
  const match = (entry: string, allowViews: boolean) => withoutMoved(matchEntry(entry, index, allowViews), moved, shown, entry);

  // The schemas the source has (catalog.schemas holds the ones asked for, found or not).
  const present = new Set(catalog.namespaces ? catalog.namespaces.map((n) => n.name) : catalog.schemas);
  manifest.source.schemas.forEach((s, i) => {
    if (!present.has(s)) {
      const folded = s.toLowerCase();
      problems.add(
        joinPath('source.schemas', i),
        `schema ${JSON.stringify(s)} does not exist in the source database`,
        folded !== s
          ? `names match exactly, case included, and PostgreSQL folds an unquoted name to lower case (CREATE SCHEMA ${s} made ${folded}): write ${folded}; \\dn in psql lists the schemas`
          : 'remove it, or write a schema the source has (\\dn in psql lists them)',
      );
    }
  });
  for (const s of manifest.services) {
    if (s.server === 'source' && s.database === catalog.database) {
      problems.add(
        `${joinPath('services', s.name)}.database`,
        `${s.database} is the source database itself`,
        `give ${s.name} a new database, like ${s.database}_${s.name.replace(/\W+/g, '_')}`,
      );
    }
  }

  const ignored = new Map<string, string>();
  const ignoredViews = new Set<string>();
  // Tables a fix already names (a partition's parent, a closest name): not reported again as unassigned.
  const suggested = new Set<string>();
  const { owners, contested } = resolveOwnership(manifest, index, problems, suggested, shown, (m, entry) => withoutMoved(m, moved, shown, entry), warnings);
  // Ignore globs only take what no service owns ("ignore the rest"); an exact name
  // that a service also owns is a contradiction.
  const viewsByKey = new Map(catalog.views.map((v) => [tableKey(v), v]));
  const globViews = new Set<string>();
  /** The one service owning every table a view reads (through the views it reads), or null. */
  const oneServiceReads = (view: string, seen = new Set<string>()): string | null => {
    const services = new Set<string>();
    for (const d of viewsByKey.get(view)?.dependsOn ?? []) {
      if (viewsByKey.has(d)) {
        if (ignoredViews.has(d)) return null;
        if (seen.has(d)) continue;
        seen.add(d);
        const s = oneServiceReads(d, seen);
        if (s === null) return null;
        services.add(s);
      } else {
        const o = owners.get(index.rootOf(d));
        if (!o) return null;
        services.add(o.service);
      }
    }
    return services.size === 1 ? [...services][0]! : null;
  };
  manifest.ignore.forEach((entry, i) => {
    const path = joinPath('ignore', i);
    const m = match(entry, true);
    if ('message' in m) {
      if (m.moved) warnings.add(path, m.message, m.fix);
      else if (m.nothing) warnings.add(path, m.message, `remove it from ignore, or correct it (${m.fix})`);
      else {
        problems.add(path, m.message, m.fix);
        // Only an error names the table for the user: a mistyped ignore entry is a warning, and the
        // table it was meant for, left in no service, must still stop the plan (reported below).
        for (const k of m.suggested) suggested.add(k);
      }
      return;
    }
    // An exact name in ignore beats a service's glob (`main: ["*"]` with `ignore: [schema_migrations]`).
    const free = m.isGlob ? m.tables.filter((k) => !owners.has(k)) : m.tables;
    if (free.length === 0 && m.views.length === 0) {
      warnings.add(path, `${JSON.stringify(entry)} matches only tables that services own`, 'remove it from ignore');
    }
    for (const k of free) {
      const o = owners.get(k);
      if (o && !o.exact) owners.delete(k);
      if (o && o.exact) {
        contested.add(k);
        problems.add(
          path,
          `${shown(k)} is ignored but also owned by ${o.service} (${o.path})`,
          `remove it from ignore, or from services.${o.service}.tables`,
        );
      } else if (!ignored.has(k)) ignored.set(k, path);
    }
    // A glob takes only views no one service takes whole (decided below, once every exact entry is known): "the rest".
    for (const v of m.views) (m.isGlob ? globViews : ignoredViews).add(v);
  });
  // A view a glob matched stays only if no one service owns every table it reads; one reading a view that stays, stays too.
  for (let changed = true; changed; ) {
    changed = false;
    for (const v of globViews) {
      if (!ignoredViews.has(v) && oneServiceReads(v) === null) {
        ignoredViews.add(v);
        changed = true;
      }
    }
  }
  const ownerOf = (key: string): string | null => owners.get(index.rootOf(key))?.service ?? null;
  const placementOf = (key: string): Placement => {
    const root = index.rootOf(key);
    const t = index.byKey.get(root);
    if (!t) return 'stays';
    // An earlier wave's table: its fenced backup stays in the source.
    if (moved.has(root)) return 'stays';
    if (contested.has(root)) return 'unsettled';
    const o = owners.get(root);
    if (o) return { service: o.service };
    return ignored.has(root) || !index.schemas.includes(t.schema) ? 'stays' : 'unsettled';
  };

  const copied = new Map<string, Set<string>>(serviceNames.map((n) => [n, new Set()]));
  for (const s of manifest.services) {
    s.copies.forEach((entry, i) => {
      const path = joinPath(`${joinPath('services', s.name)}.copies`, i);
      const m = match(entry, false);
      if ('message' in m) return problems.add(path, m.message, m.fix);
      for (const key of m.tables) {
        if (contested.has(key)) continue;
        const o = owners.get(key);
        if (!o) {
          const why = ignored.has(key) ? `${shown(key)} is ignored, so no service owns it` : `no service owns ${shown(key)}`;
          problems.add(
            path,
            `${why}; a copy needs an owner`,
            `add ${asYaml(key)} to the tables of the service that owns its data, or remove this copy`,
          );
        } else if (o.service === s.name) {
          problems.add(path, `${s.name} owns ${shown(key)} (${o.path}) and also copies it`, 'remove it from copies');
        } else copied.get(s.name)!.add(key);
      }
    });
  }

  const likelyOwner = ownerSuggester(catalog, ownerOf, serviceNames);
  for (const t of index.listable) {
    const key = tableKey(t);
    if (owners.has(key) || ignored.has(key) || suggested.has(key) || moved.has(key)) continue;
    const svc = likelyOwner(t);
    problems.add(
      svc ? `${joinPath('services', svc)}.tables` : 'ignore',
      `table ${shown(key)} is not owned by any service and not ignored`,
      svc
        ? `add ${asYaml(key)} to services.${svc}.tables (its foreign keys point to ${svc}'s tables), or to ignore`
        : `add ${asYaml(key)} to the tables of one service, or to ignore`,
    );
  }

  const views = placeViews(index, placementOf, ignoredViews, problems);
  const denormalize = new Map(manifest.services.map((s) => [s.name, resolveDenormalize(s, index, placementOf, problems, movedRoot)]));
  // Read from an earlier wave's table, a column would be filled from its stale backup.
  for (const list of denormalize.values()) {
    for (const d of list) {
      const m = movedRoot(d.from.table);
      if (!m) continue;
      problems.add(
        `${d.path}.from`,
        `${shown(index.rootOf(d.from.table))} was ${describeMoved(m)}; its rows in the source are a fenced backup, stale once ${m.service ?? `split ${m.split}`} writes to ${m.database ?? 'its new database'}, so a column cannot be filled from it`,
        `remove this entry, and fill ${d.table}.${d.column} from ${m.service ?? `split ${m.split}`} (its API or events) after the split`,
      );
    }
  }
  const objects = resolveObjects(manifest, catalog, problems);
  if (problems.size > 0) throw new ManifestError(problems.items);

  const tables: Record<string, TableFacts> = {};
  const services: ResolvedService[] = manifest.services.map((spec) => ({
    spec,
    name: spec.name,
    database: spec.database,
    server: spec.server,
    role: spec.role?.name ?? null,
    tables: [],
    copies: [],
    views: views.byService.get(spec.name) ?? [],
    objects: objects.get(spec.name) ?? [],
    denormalize: denormalize.get(spec.name) ?? [],
    droppedForeignKeys: [],
  }));
  const byName = new Map(services.map((s) => [s.name, s]));
  for (const t of index.listable) {
    const key = tableKey(t);
    if (moved.has(key)) continue;
    const owner = owners.get(key);
    const partitions = index.partitionsOf(key);
    const copiedBy = serviceNames.filter((n) => copied.get(n)!.has(key));
    const entry = owner?.path ?? ignored.get(key)!;
    const facts = (k: string, root: string | null, parts: string[]): TableFacts => ({
      key: k,
      fate: owner ? 'owned' : 'ignored',
      service: owner?.service ?? null,
      copiedBy,
      partitionRoot: root,
      partitions: parts,
      entry,
    });
    tables[key] = facts(key, null, partitions);
    for (const p of partitions) tables[p] = facts(p, key, index.partitionsOf(p));
    if (owner) byName.get(owner.service)!.tables.push(key, ...partitions);
    for (const n of copiedBy) byName.get(n)!.copies.push(key, ...partitions);
  }
  for (const s of services) s.droppedForeignKeys = droppedForeignKeys(s.tables, s.copies, index, ownerOf, s.denormalize);
  return { manifest, services, tables, sourceViews: views.stay, warnings: warnings.items, moved: [...earlier] };
}
