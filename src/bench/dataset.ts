import pg from 'pg';

/** One target database of the benchmark: a service and the tables it owns. */
export interface BenchService {
  name: string;
  database: string;
  /** Unqualified table names in schema public. */
  tables: string[];
  /** Denormalized columns the service's tables get (filled by the copy). */
  denormalize?: Array<{ table: string; column: string; from: string }>;
}

/**
 * The generated source database and how it is split. Deterministic for a given
 * scale: every value is a function of the row number (no random()).
 * Invariant: `services` and `ignored` together name every table exactly once.
 */
export interface Dataset {
  scale: number;
  database: string;
  services: BenchService[];
  ignored: string[];
  /** Objects `pg_dump -t` leaves out (types) that the peers create first. */
  preamble: string[];
  /** Table name → heap + TOAST bytes on the source (pg_table_size), moved tables only. */
  tableBytes: Record<string, number>;
  /** Table name → row count, moved tables only. */
  tableRows: Record<string, number>;
}

export const SMALL_TABLES = 200;
const small = (i: number) => `small_${String(i).padStart(3, '0')}`;

/** Row counts at a scale (scale 1: the `events` table is about 1 GB). */
export function datasetRows(scale: number): Record<'accounts' | 'devices' | 'events' | 'documents' | 'oddities' | 'small', number> {
  const n = (base: number, min: number) => Math.max(min, Math.round(base * scale));
  return { accounts: n(10_000, 100), devices: n(100_000, 100), events: n(8_000_000, 1000), documents: n(20_000, 50), oddities: n(200_000, 200), small: n(5_000, 20) };
}

export function benchServices(): { services: BenchService[]; ignored: string[] } {
  const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => small(from + i));
  return {
    services: [
      {
        name: 'bench-core',
        database: 'bench_core',
        tables: ['accounts', 'devices', 'events'],
        // The largest table reads a column through its nullable foreign key (a quarter NULL, every device repeated).
        denormalize: [{ table: 'events', column: 'device_serial', from: 'devices.serial' }],
      },
      { name: 'bench-docs', database: 'bench_docs', tables: ['documents', 'oddities', ...range(1, 60)] },
      { name: 'bench-misc', database: 'bench_misc', tables: range(61, 120) },
    ],
    ignored: range(121, SMALL_TABLES),
  };
}

export const MOOD_TYPE = `CREATE TYPE public.mood AS ENUM ('sad', 'ok', 'happy', 'ecstatic')`;

function schemaSql(): string[] {
  const smallDdl = `DO $$ BEGIN
    FOR i IN 1..${SMALL_TABLES} LOOP
      EXECUTE format('CREATE TABLE public.%I (id integer NOT NULL, parent_id integer, name text NOT NULL, value integer, created_at timestamptz NOT NULL)', 'small_' || lpad(i::text, 3, '0'));
    END LOOP; END $$`;
  return [
    MOOD_TYPE,
    'CREATE TABLE public.accounts (id integer NOT NULL, parent_id integer, name text NOT NULL, email text NOT NULL, created_at timestamptz NOT NULL)',
    'CREATE TABLE public.devices (id integer NOT NULL, account_id integer NOT NULL, serial text NOT NULL, model text, created_at timestamptz NOT NULL)',
    'CREATE TABLE public.events (id bigint NOT NULL, device_id integer, created_at timestamptz NOT NULL, kind smallint NOT NULL, amount numeric(12,2), payload text)',
    'CREATE TABLE public.documents (id integer NOT NULL, parent_id integer, title text NOT NULL, created_at timestamptz NOT NULL, body text, blob bytea)',
    'ALTER TABLE public.documents ALTER COLUMN body SET STORAGE EXTERNAL, ALTER COLUMN blob SET STORAGE EXTERNAL',
    `CREATE TABLE public.oddities (id integer NOT NULL, parent_id integer, n numeric, n6 numeric(20,6), f double precision, r real,
       ts timestamptz, iv interval, mood public.mood, j json, jb jsonb, ia integer[], ta text[], b boolean, d date, u uuid)`,
    smallDdl,
  ];
}

function dataSql(scale: number): string[] {
  const r = datasetRows(scale);
  const t0 = `'2024-01-01 00:00:00+00'::timestamptz`;
  const events = (from: number, to: number) =>
    `INSERT INTO public.events SELECT i, CASE WHEN i % 4 <> 0 THEN 1 + (i * 7919) % ${r.devices} END, ${t0} + i * interval '1 second', (i % 7)::smallint,
       ((i * 31) % 1000000) / 100.0, md5(i::text) || ' ' || md5((i * 3)::text) FROM generate_series(${from}::bigint, ${to}) AS i`;
  const half = Math.floor(r.events / 2);
  return [
    `INSERT INTO public.accounts SELECT i, CASE WHEN i > 1 THEN i / 2 END, 'account ' || i, 'user' || i || '@example.com', ${t0} + i * interval '1 minute'
       FROM generate_series(1, ${r.accounts}) AS i`,
    `INSERT INTO public.devices SELECT i, 1 + (i * 13) % ${r.accounts}, 'SN-' || lpad(i::text, 9, '0'), 'model-' || (i % 17), ${t0} + i * interval '1 minute'
       FROM generate_series(1, ${r.devices}) AS i`,
    `INSERT INTO public.documents SELECT i, CASE WHEN i > 1 THEN i / 2 END, 'document ' || i, ${t0} + i * interval '1 hour',
       repeat(md5(i::text), 64 + (i * 37) % 560), decode(repeat(md5((i + 1)::text), 16 + (i % 48)), 'hex')
       FROM generate_series(1, ${r.documents}) AS i`,
    `INSERT INTO public.oddities SELECT i, CASE WHEN i > 1 THEN i / 2 END,
       CASE i % 5 WHEN 0 THEN NULL WHEN 1 THEN 1.0 WHEN 2 THEN 1.000 ELSE (i * 1.0001) END,
       (i % 100000) / 7.0,
       CASE i % 7 WHEN 0 THEN '-0'::float8 WHEN 1 THEN 'NaN' WHEN 2 THEN 'Infinity' WHEN 3 THEN '-Infinity' WHEN 4 THEN NULL ELSE i / 3.0 END,
       (i / 11.0)::real,
       CASE WHEN i % 13 = 0 THEN NULL ELSE ${t0} + i * interval '17 minutes 3.25 seconds' END,
       CASE WHEN i % 17 = 0 THEN NULL ELSE make_interval(months => i % 14, days => i % 40, secs => (i % 3600) / 8.0) END,
       (ARRAY['sad', 'ok', 'happy', 'ecstatic', NULL])[1 + i % 5]::public.mood,
       CASE WHEN i % 9 = 0 THEN NULL ELSE json_build_object('i', i, 'tags', json_build_array('a', i % 3, NULL), 's', 'x"y\\z') END,
       jsonb_build_object('k', i % 100, 'nested', jsonb_build_object('v', i::text)),
       CASE WHEN i % 6 = 0 THEN NULL ELSE ARRAY[i, i + 1, NULL, -i] END,
       ARRAY['a' || i, NULL, 'quote''s', ''],
       CASE i % 3 WHEN 0 THEN NULL WHEN 1 THEN true ELSE false END,
       DATE '2000-01-01' + (i % 10000),
       md5(i::text)::uuid
       FROM generate_series(1, ${r.oddities}) AS i`,
    `DO $$ BEGIN
       FOR k IN 1..${SMALL_TABLES} LOOP
         EXECUTE format('INSERT INTO public.%I SELECT i, CASE WHEN i > 1 THEN i / 2 END, %L || i, (i * %s) %% 1000, %L::timestamptz + i * interval ''1 minute'' FROM generate_series(1, ${r.small}) AS i',
           'small_' || lpad(k::text, 3, '0'), 'item ' || k || '-', k, '2024-01-01 00:00:00+00');
       END LOOP; END $$`,
    `--parallel\n${events(1, half)}`,
    `--parallel\n${events(half + 1, r.events)}`,
  ];
}

/** Keys, indexes and foreign keys (every table: a primary key, two indexes, one foreign key). */
function postSql(): string[] {
  const smallPost = `DO $$ DECLARE t text; BEGIN
    FOR i IN 1..${SMALL_TABLES} LOOP
      t := 'small_' || lpad(i::text, 3, '0');
      EXECUTE format('ALTER TABLE public.%I ADD PRIMARY KEY (id)', t);
      EXECUTE format('CREATE INDEX ON public.%I (name)', t);
      EXECUTE format('CREATE INDEX ON public.%I (created_at)', t);
      EXECUTE format('ALTER TABLE public.%I ADD FOREIGN KEY (parent_id) REFERENCES public.%I (id)', t, t);
    END LOOP; END $$`;
  return [
    'ALTER TABLE public.accounts ADD PRIMARY KEY (id)',
    'CREATE UNIQUE INDEX ON public.accounts (email)',
    'CREATE INDEX ON public.accounts (created_at)',
    'ALTER TABLE public.accounts ADD FOREIGN KEY (parent_id) REFERENCES public.accounts (id)',
    'ALTER TABLE public.devices ADD PRIMARY KEY (id)',
    'CREATE INDEX ON public.devices (account_id)',
    'CREATE UNIQUE INDEX ON public.devices (serial)',
    'ALTER TABLE public.devices ADD FOREIGN KEY (account_id) REFERENCES public.accounts (id)',
    '--parallel\nALTER TABLE public.events ADD PRIMARY KEY (id)',
    '--parallel\nCREATE INDEX ON public.events (device_id)',
    '--parallel\nCREATE INDEX ON public.events (created_at)',
    'ALTER TABLE public.events ADD FOREIGN KEY (device_id) REFERENCES public.devices (id)',
    'ALTER TABLE public.documents ADD PRIMARY KEY (id)',
    'CREATE INDEX ON public.documents (title)',
    'CREATE INDEX ON public.documents (created_at)',
    'ALTER TABLE public.documents ADD FOREIGN KEY (parent_id) REFERENCES public.documents (id)',
    'ALTER TABLE public.oddities ADD PRIMARY KEY (id)',
    'CREATE INDEX ON public.oddities (ts)',
    'CREATE INDEX ON public.oddities (mood)',
    'ALTER TABLE public.oddities ADD FOREIGN KEY (parent_id) REFERENCES public.oddities (id)',
    smallPost,
    'VACUUM (FREEZE, ANALYZE)',
  ];
}

/** Runs statements in order; consecutive ones marked `--parallel` run at the same time on two connections. */
async function runBatches(url: string, statements: string[]): Promise<void> {
  const clients = [new pg.Client({ connectionString: url }), new pg.Client({ connectionString: url })] as const;
  await Promise.all(clients.map((c) => c.connect()));
  try {
    let i = 0;
    while (i < statements.length) {
      const batch: string[] = [];
      while (i < statements.length && statements[i]!.startsWith('--parallel')) batch.push(statements[i++]!);
      if (batch.length === 0) {
        await clients[0].query(statements[i++]!);
        continue;
      }
      for (let j = 0; j < batch.length; j += clients.length) {
        await Promise.all(batch.slice(j, j + clients.length).map((s, k) => clients[k]!.query(s)));
      }
    }
  } finally {
    await Promise.all(clients.map((c) => c.end().catch(() => undefined)));
  }
}

/**
 * Creates database `database` on the server of `serverUrl` (a URL to any database)
 * and fills it: `events` (about 1 GB at scale 1), 200 small tables, a TOAST-heavy
 * table, a table of awkward types; each with a primary key, two indexes and a foreign key.
 */
export async function createDataset(serverUrl: string, database: string, scale: number): Promise<Dataset> {
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${database}`);
  } finally {
    await admin.end();
  }
  const u = new URL(serverUrl);
  u.pathname = `/${database}`;
  const url = u.toString();
  await runBatches(url, [...schemaSql(), ...dataSql(scale), ...postSql()]);
  const { services, ignored } = benchServices();
  const moved = services.flatMap((s) => s.tables);
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  const tableBytes: Record<string, number> = {};
  const tableRows: Record<string, number> = {};
  try {
    for (const name of moved) {
      const r = await c.query<{ bytes: string; rows: string }>(
        `SELECT pg_table_size('public.${name}')::text AS bytes, (SELECT count(*) FROM public.${name})::text AS rows`,
      );
      tableBytes[name] = Number(r.rows[0]!.bytes);
      tableRows[name] = Number(r.rows[0]!.rows);
    }
  } finally {
    await c.end();
  }
  return { scale, database, services, ignored, preamble: [MOOD_TYPE], tableBytes, tableRows };
}

/** The split manifest for the dataset (URLs from BENCH_SOURCE_URL, BENCH_TARGET_URL, BENCH_CONTROL_URL). */
export function benchManifest(ds: Pick<Dataset, 'services' | 'ignored'>): string {
  const lines = [
    'version: 1',
    'name: bench',
    'source:',
    '  url: ${BENCH_SOURCE_URL}',
    'control:',
    '  url: ${BENCH_CONTROL_URL}',
    'servers:',
    '  target: ${BENCH_TARGET_URL}',
    'mode: offline',
    'retention:',
    '  days: 1',
    'services:',
  ];
  for (const s of ds.services) {
    lines.push(`  ${s.name}:`, `    database: ${s.database}`, '    server: target', `    tables: [${s.tables.join(', ')}]`);
    if (s.denormalize?.length) {
      lines.push('    denormalize:');
      for (const d of s.denormalize) lines.push(`      - { table: ${d.table}, column: ${d.column}, from: ${d.from} }`);
    }
  }
  lines.push(`ignore: [${ds.ignored.join(', ')}]`);
  return `${lines.join('\n')}\n`;
}
