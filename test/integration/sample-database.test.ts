import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import picomatch from 'picomatch';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { parseQualified } from '../../src/pg/quote.js';
import { createDatabase, pg15, servers, uniquePrefix } from '../harness/servers.js';
import {
  SAMPLE_ENV_VARS,
  SAMPLE_IGNORE,
  SAMPLE_SERVICES,
  loadSample,
  sampleCounts,
  sampleManifest,
  serviceFiles,
  writeServicesTree,
} from '../fixtures/index.js';

/** What a loaded sample looks like, gathered in one session with fixed output settings. */
interface Inspection {
  tables: string[];
  partitions: Record<string, number>;
  views: string[];
  counts: Record<string, number>;
  checksums: Record<string, string>;
  enumsUnused: string[];
  foreignKeys: Array<{ name: string; child: string; parent: string; orphans: number; validated: boolean }>;
}

async function inspect(url: string): Promise<Inspection> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    await c.query(`SET TimeZone = 'UTC'; SET DateStyle = 'ISO, MDY'; SET IntervalStyle = 'postgres'; SET bytea_output = 'hex'`);
    const rels = (
      await c.query<{ name: string; kind: string; part: boolean }>(
        `SELECT c.relname AS name, c.relkind AS kind, c.relispartition AS part
           FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v') ORDER BY 1`,
      )
    ).rows;
    const tables = rels.filter((r) => r.kind !== 'v' && !r.part).map((r) => r.name);
    const ident = (n: string): string => `"${n.replaceAll('"', '""')}"`;
    const counts: Record<string, number> = {};
    const checksums: Record<string, string> = {};
    for (const t of tables) {
      const r = await c.query<{ n: number; sum: string }>(
        `SELECT count(*)::int AS n, md5(coalesce(string_agg(md5(t::text), '' ORDER BY md5(t::text)), '')) AS sum FROM ${ident(t)} t`,
      );
      counts[t] = r.rows[0]!.n;
      checksums[t] = r.rows[0]!.sum;
    }
    const partitions: Record<string, number> = {};
    for (const p of rels.filter((r) => r.part)) {
      partitions[p.name] = (await c.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${ident(p.name)}`)).rows[0]!.n;
    }
    // Every label of every enum must appear in some column of that enum type.
    const labels = (
      await c.query<{ typ: string; label: string }>(
        `SELECT t.typname AS typ, e.enumlabel AS label FROM pg_enum e JOIN pg_type t ON t.oid = e.enumtypid
           JOIN pg_namespace n ON n.oid = t.typnamespace WHERE n.nspname = 'public'`,
      )
    ).rows;
    const enumCols = (
      await c.query<{ tbl: string; col: string; typ: string }>(
        `SELECT c.oid::regclass::text AS tbl, quote_ident(a.attname) AS col, t.typname AS typ
           FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_type t ON t.oid = a.atttypid
           JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition AND t.typtype = 'e'
            AND a.attnum > 0 AND NOT a.attisdropped`,
      )
    ).rows;
    const used = new Set<string>();
    for (const col of enumCols) {
      const r = await c.query<{ v: string }>(`SELECT DISTINCT ${col.col}::text AS v FROM ${col.tbl} WHERE ${col.col} IS NOT NULL`);
      for (const row of r.rows) used.add(`${col.typ}.${row.v}`);
    }
    const enumsUnused = labels.map((l) => `${l.typ}.${l.label}`).filter((l) => !used.has(l));
    const fks = (
      await c.query<{ name: string; child: string; parent: string; cols: string[]; refcols: string[]; validated: boolean }>(
        `SELECT con.conname AS name, con.conrelid::regclass::text AS child, con.confrelid::regclass::text AS parent,
                con.convalidated AS validated,
                (SELECT array_agg(quote_ident(a.attname) ORDER BY k.i) FROM unnest(con.conkey) WITH ORDINALITY k(n, i)
                   JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.n) AS cols,
                (SELECT array_agg(quote_ident(a.attname) ORDER BY k.i) FROM unnest(con.confkey) WITH ORDINALITY k(n, i)
                   JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.n) AS refcols
           FROM pg_constraint con JOIN pg_namespace n ON n.oid = con.connamespace
          WHERE con.contype = 'f' AND n.nspname = 'public' AND con.conparentid = 0 ORDER BY 1`,
      )
    ).rows;
    const foreignKeys: Inspection['foreignKeys'] = [];
    for (const fk of fks) {
      const notNull = fk.cols.map((col) => `c.${col} IS NOT NULL`).join(' AND ');
      const match = fk.cols.map((col, i) => `p.${fk.refcols[i]} = c.${col}`).join(' AND ');
      const r = await c.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM ${fk.child} c WHERE ${notNull} AND NOT EXISTS (SELECT 1 FROM ${fk.parent} p WHERE ${match})`,
      );
      foreignKeys.push({ name: fk.name, child: fk.child, parent: fk.parent, orphans: r.rows[0]!.n, validated: fk.validated });
    }
    return { tables, partitions, views: rels.filter((r) => r.kind === 'v').map((r) => r.name), counts, checksums, enumsUnused, foreignKeys };
  } finally {
    await c.end();
  }
}

/** A manifest entry matches a table: SQL-quoted names exactly, anything else as a glob. */
function matches(entry: string, table: string): boolean {
  return entry.startsWith('"') ? parseQualified(entry, 'public').name === table : picomatch(entry)(table);
}

async function loadFresh(serverUrl: string, name: string): Promise<{ url: string; ms: number }> {
  const url = await createDatabase(serverUrl, name);
  const t0 = performance.now();
  await loadSample(url);
  return { url, ms: performance.now() - t0 };
}

describe('sample cloud-phone database', () => {
  const prefix = uniquePrefix();
  let on18: Inspection;
  let on18again: Inspection;
  let on15: Inspection;
  let loadMs: number;

  beforeAll(async () => {
    const [a, b, c] = await Promise.all([
      loadFresh(servers().main, `${prefix}core_a`),
      loadFresh(servers().main, `${prefix}core_b`),
      loadFresh(pg15(), `${prefix}core`),
    ]);
    loadMs = Math.min(a.ms, b.ms, c.ms);
    [on18, on18again, on15] = await Promise.all([inspect(a.url), inspect(b.url), inspect(c.url)]);
  });

  it('has the 30 service tables, the 3 ignored ones, 3 partitions and 2 views, on 18 and 15', () => {
    expect(on18.tables).toHaveLength(33);
    expect(on18.tables).toContain('Billing "Audit" Log');
    expect(Object.keys(on18.partitions).sort()).toEqual(['device_events_2025_01', 'device_events_2025_02', 'device_events_2025_03']);
    expect(on18.views.sort()).toEqual(['active_devices', 'device_owner_summary']);
    expect(on15.tables).toEqual(on18.tables);
    expect(on15.views.sort()).toEqual(on18.views.sort());
  });

  it('loads at scale 1 in well under the budget', () => {
    // The budget is 3 s on an idle machine; allow for the parallel test files.
    expect(loadMs).toBeLessThan(6000);
  });

  it('holds the rows the counts promise, with the same counts on 15 and 18', () => {
    const n = sampleCounts(1);
    expect(on18.counts['device_events']).toBe(n.deviceEvents);
    expect(on18.counts['users']).toBe(n.users);
    expect(on18.counts['orders']).toBe(n.orders);
    expect(on18.counts['devices']).toBe(n.devices);
    const largest = Math.max(...Object.values(on18.counts));
    expect(largest).toBe(n.deviceEvents);
    for (const t of on18.tables) expect(on18.counts[t], t).toBeGreaterThan(0);
    expect(on15.counts).toEqual(on18.counts);
    for (const rows of Object.values(on18.partitions)) expect(rows).toBeGreaterThan(1000);
  });

  it('uses every enum value', () => {
    expect(on18.enumsUnused).toEqual([]);
    expect(on15.enumsUnused).toEqual([]);
  });

  it('has valid foreign keys, including the cross-service and multi-column ones', () => {
    expect(on18.foreignKeys.length).toBeGreaterThanOrEqual(30);
    expect(on18.foreignKeys.filter((f) => f.orphans > 0 || !f.validated)).toEqual([]);
    expect(on15.foreignKeys.filter((f) => f.orphans > 0 || !f.validated)).toEqual([]);
    const pairs = on18.foreignKeys.map((f) => `${f.child}->${f.parent}`);
    for (const p of ['devices->users', 'orders->users', 'orders->devices', 'device_applications->devices', 'user_role_scopes->user_roles']) {
      expect(pairs).toContain(p);
    }
  });

  it('is deterministic: two loads, and 15 versus 18, hold the same rows', () => {
    expect(on18again.checksums).toEqual(on18.checksums);
    expect(on15.checksums).toEqual(on18.checksums);
  });

  it('grows linearly with the scale', () => {
    const one = sampleCounts(1);
    const three = sampleCounts(3);
    expect(three.deviceEvents).toBe(3 * one.deviceEvents);
    expect(three.users).toBe(3 * one.users);
    expect(() => sampleCounts(0)).toThrow(RangeError);
  });

  it('has a manifest that assigns every table exactly once', () => {
    const doc = parse(sampleManifest()) as {
      name: string;
      source: { url: string };
      services: Record<string, { database: string; tables: string[]; copies?: string[]; role: { name: string; password: string } }>;
      ignore: string[];
      retention: { days: number };
    };
    expect(doc.name).toBe('cloudphone');
    expect(doc.source.url).toBe('${CLOUDPHONE_CORE_URL}');
    expect(doc.retention.days).toBe(7);
    expect(Object.keys(doc.services)).toEqual(SAMPLE_SERVICES.map((s) => s.name));
    expect(doc.services['notification-service']!.tables).toEqual([]);
    expect(doc.services['user-service']!.role).toEqual({ name: 'cloudphone_user_svc', password: '${USER_DB_PASSWORD}' });
    const owners = (table: string): string[] => {
      const found: string[] = [];
      for (const [name, s] of Object.entries(doc.services)) if (s.tables.some((p) => matches(p, table))) found.push(name);
      if (doc.ignore.some((p) => matches(p, table))) found.push('(ignore)');
      return found;
    };
    for (const t of on18.tables) expect(owners(t), t).toHaveLength(1);
    expect(owners('device_owner_summary')).toEqual(['(ignore)']);
    expect(owners('Billing "Audit" Log')).toEqual(['billing-service']);
    // Every pattern matches something; every copy is a table owned elsewhere.
    const names = [...on18.tables, ...on18.views];
    for (const s of Object.values(doc.services)) {
      for (const p of [...s.tables, ...(s.copies ?? [])]) expect(names.filter((n) => matches(p, n)), p).not.toEqual([]);
    }
    for (const p of SAMPLE_IGNORE) expect(names.filter((n) => matches(p, n)), p).not.toEqual([]);
    expect(doc.services['api-gateway']!.copies).toEqual(['users', 'roles']);
    expect(owners('users')).toEqual(['user-service']);
  });

  it('has a prefixed, two-server, configured variant whose files exist', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cps-sample-'));
    try {
      await writeServicesTree(dir, { sourceUrl: servers().main });
      const text = sampleManifest({ prefix: 't1_', withConfig: true, secondServer: true, sourceUrl: servers().main, controlUrl: null });
      const doc = parse(text) as {
        name: string;
        source: { url: string };
        control?: unknown;
        servers: Record<string, string>;
        services: Record<string, { database: string; server?: string; config: Array<Record<string, string>>; health?: string }>;
      };
      expect(doc.name).toBe('t1_cloudphone');
      expect(doc.source.url).toBe(servers().main);
      expect(doc.control).toBeUndefined();
      expect(doc.servers).toEqual({ 'billing-pg': '${BILLING_PG_URL}' });
      expect(doc.services['billing-service']!.server).toBe('billing-pg');
      expect(doc.services['device-service']!.database).toBe('t1_cloudphone_device');
      expect(doc.services['billing-service']!.health).toBe('http://localhost:30005/health');
      for (const [name, s] of Object.entries(doc.services)) {
        expect(s.config.map((e) => e['file'])).toContain(serviceFiles(name).values);
        for (const entry of s.config) {
          const content = await readFile(join(dir, entry['file']!), 'utf8');
          if (entry['replace']) expect(content).toContain(entry['replace']);
          if (entry['key'] === 'DB_DATABASE') expect(content).toMatch(/^(export )?DB_DATABASE=cloudphone_core$/m);
          if (entry['key'] === 'DATABASE_URL') expect(content).toMatch(/DATABASE_URL=.*\/cloudphone_core\?sslmode=disable/);
          if (entry['key'] === 'database.name') expect((parse(content) as { database: { name: string } }).database.name).toBe('cloudphone_core');
        }
      }
      const atlas = await readFile(join(dir, 'atlas.hcl'), 'utf8');
      expect(atlas.match(/url = "postgres:\/\/.*\/cloudphone_core\?/g)).toHaveLength(SAMPLE_SERVICES.length);
      const vars = [...text.matchAll(/\$\{([A-Z0-9_]+)\}/g)].map((m) => m[1]);
      for (const v of vars) expect(SAMPLE_ENV_VARS).toContain(v);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
