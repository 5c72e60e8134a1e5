import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDatabase, query, uniquePrefix, withDatabase } from '../harness/servers.js';
import { runCli, type CliResult } from './helpers/cli.js';

/**
 * A GitLab-like source: `p_ci_builds` in public, partitioned by list, with its
 * partitions in `gitlab_partitions_dynamic` and in public, one of them partitioned
 * again by range (a range partition in the other schema, the default one in
 * public), a default partition, one partition created on its own and attached
 * afterwards (so it has none of the parent's defaults, and a CHECK and a NOT NULL of
 * its own), an
 * index and a foreign key inside the ci service, a foreign key to `projects` of the
 * web service (dropped), a partitioned table whose partitions all live in the other
 * schema (with a key to the builds: PostgreSQL adds one per partition), one without
 * any partition, and a web table whose key to the builds crosses services.
 * 120 builds: 90 in the other schema, 30 in public.
 */
export const GITLAB_LIKE_SQL = `
CREATE SCHEMA gitlab_partitions_dynamic;
CREATE TABLE public.projects (id bigserial PRIMARY KEY, name text NOT NULL);
CREATE TABLE public.ci_pipelines (
  id bigserial PRIMARY KEY,
  project_id bigint NOT NULL REFERENCES public.projects (id),
  status text NOT NULL DEFAULT 'created' CHECK (status IN ('created', 'running', 'success'))
);
CREATE SEQUENCE public.p_ci_builds_id_seq;
CREATE TABLE public.p_ci_builds (
  id bigint NOT NULL DEFAULT nextval('public.p_ci_builds_id_seq'),
  partition_id bigint NOT NULL,
  pipeline_id bigint NOT NULL,
  project_id bigint NOT NULL,
  name text NOT NULL DEFAULT 'build',
  status text,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (id, partition_id),
  CONSTRAINT p_ci_builds_name_not_blank CHECK (name <> '')
) PARTITION BY LIST (partition_id);
ALTER SEQUENCE public.p_ci_builds_id_seq OWNED BY public.p_ci_builds.id;
CREATE INDEX index_p_ci_builds_on_status ON public.p_ci_builds (status);
ALTER TABLE public.p_ci_builds ADD CONSTRAINT fk_p_ci_builds_pipeline FOREIGN KEY (pipeline_id) REFERENCES public.ci_pipelines (id) ON DELETE CASCADE;
ALTER TABLE public.p_ci_builds ADD CONSTRAINT fk_p_ci_builds_project FOREIGN KEY (project_id) REFERENCES public.projects (id);
CREATE TABLE gitlab_partitions_dynamic.ci_builds_100 PARTITION OF public.p_ci_builds FOR VALUES IN (100);
CREATE TABLE gitlab_partitions_dynamic.ci_builds_101 PARTITION OF public.p_ci_builds FOR VALUES IN (101) PARTITION BY RANGE (id);
CREATE TABLE gitlab_partitions_dynamic.ci_builds_101_low PARTITION OF gitlab_partitions_dynamic.ci_builds_101 FOR VALUES FROM (MINVALUE) TO (45);
CREATE TABLE public.ci_builds_101_rest PARTITION OF gitlab_partitions_dynamic.ci_builds_101 DEFAULT;
CREATE TABLE public.ci_builds_102 PARTITION OF public.p_ci_builds FOR VALUES IN (102);
CREATE TABLE gitlab_partitions_dynamic.ci_builds_103 (LIKE public.p_ci_builds INCLUDING CONSTRAINTS);
ALTER TABLE gitlab_partitions_dynamic.ci_builds_103 ADD CONSTRAINT ci_builds_103_name_length CHECK (length(name) < 50);
ALTER TABLE gitlab_partitions_dynamic.ci_builds_103 ALTER COLUMN status SET NOT NULL;
ALTER TABLE public.p_ci_builds ATTACH PARTITION gitlab_partitions_dynamic.ci_builds_103 FOR VALUES IN (103);
CREATE TABLE gitlab_partitions_dynamic.ci_builds_default PARTITION OF public.p_ci_builds DEFAULT;
CREATE TABLE public.p_ci_builds_metadata (
  build_id bigint NOT NULL,
  partition_id bigint NOT NULL,
  timeout integer DEFAULT 3600,
  PRIMARY KEY (build_id, partition_id),
  FOREIGN KEY (build_id, partition_id) REFERENCES public.p_ci_builds (id, partition_id) ON DELETE CASCADE
) PARTITION BY LIST (partition_id);
CREATE TABLE gitlab_partitions_dynamic.ci_builds_metadata_100 PARTITION OF public.p_ci_builds_metadata FOR VALUES IN (100);
CREATE TABLE gitlab_partitions_dynamic.ci_builds_metadata_102 PARTITION OF public.p_ci_builds_metadata FOR VALUES IN (102);
CREATE TABLE public.p_ci_job_artifacts (id bigint NOT NULL, partition_id bigint NOT NULL, file text) PARTITION BY LIST (partition_id);
CREATE INDEX index_p_ci_job_artifacts_on_file ON public.p_ci_job_artifacts (file);
CREATE TABLE public.project_build_stats (
  id bigserial PRIMARY KEY,
  build_id bigint NOT NULL,
  partition_id bigint NOT NULL,
  CONSTRAINT fk_stats_build FOREIGN KEY (build_id, partition_id) REFERENCES public.p_ci_builds (id, partition_id)
);

INSERT INTO public.projects (name) SELECT 'project ' || i FROM generate_series(1, 5) i;
INSERT INTO public.ci_pipelines (project_id, status) SELECT 1 + i % 5, 'success' FROM generate_series(1, 10) i;
INSERT INTO public.p_ci_builds (partition_id, pipeline_id, project_id, name, status)
SELECT p.partition_id, 1 + i % 10, 1 + i % 5, 'job ' || i, 'success'
FROM (VALUES (100, 30), (101, 30), (102, 20), (103, 20), (999, 20)) AS p(partition_id, n)
CROSS JOIN LATERAL generate_series(1, p.n) i;
INSERT INTO public.p_ci_builds_metadata (build_id, partition_id) SELECT id, partition_id FROM public.p_ci_builds WHERE partition_id IN (100, 102);
INSERT INTO public.project_build_stats (build_id, partition_id) SELECT id, partition_id FROM public.p_ci_builds WHERE partition_id = 100 ORDER BY id LIMIT 5;
ANALYZE;
`;

/** The leaves of p_ci_builds and where they live. */
export const BUILD_LEAVES = [
  'gitlab_partitions_dynamic.ci_builds_100',
  'gitlab_partitions_dynamic.ci_builds_101_low',
  'gitlab_partitions_dynamic.ci_builds_103',
  'gitlab_partitions_dynamic.ci_builds_default',
  'public.ci_builds_101_rest',
  'public.ci_builds_102',
];

/** One split of the GitLab-like source: its databases, manifest and the CLI bound to it. */
export interface PartitionSplit {
  prefix: string;
  sourceUrl: string;
  controlUrl: string;
  ciUrl: string;
  /** The ci service's own role, connecting to its database. */
  ciRoleUrl: string;
  ciRole: string;
  webUrl: string;
  ciDb: string;
  webDb: string;
  planFile: string;
  cli(verb: string, ...args: string[]): Promise<CliResult>;
  cleanup(): Promise<void>;
}

/**
 * The source (with the schema above) on `sourceServer`, the journal beside it, and a
 * manifest that puts the services' databases on `targetServer`: web owns projects and
 * project_build_stats, ci (with a login role of its own) the pipelines and the three
 * partitioned tables.
 */
export async function partitionSplit(sourceServer: string, targetServer: string): Promise<PartitionSplit> {
  const prefix = uniquePrefix();
  const sourceUrl = await createDatabase(sourceServer, `${prefix}gitlab`);
  const controlUrl = await createDatabase(sourceServer, `${prefix}control`);
  await query(sourceUrl, GITLAB_LIKE_SQL);
  const dir = await mkdtemp(join(tmpdir(), 'cps-partitions-'));
  const manifest = join(dir, 'split.yaml');
  const [ciDb, webDb, ciRole] = [`${prefix}ci`, `${prefix}web`, `${prefix}ci_svc`];
  const ciPassword = `pw-${prefix}`;
  await writeFile(
    manifest,
    [
      'version: 1',
      `name: ${prefix}gitlab`,
      'source:',
      '  url: ${SRC_URL}',
      '  schemas: [public]',
      'control:',
      '  url: ${CTRL_URL}',
      'servers:',
      '  target: ${TARGET_URL}',
      'services:',
      '  web:',
      `    database: ${webDb}`,
      '    server: target',
      '    tables: [projects, project_build_stats]',
      '  ci:',
      `    database: ${ciDb}`,
      '    server: target',
      `    role: { name: ${ciRole}, password: "\${CI_DB_PASSWORD}" }`,
      '    tables: [ci_pipelines, "p_ci_*"]',
      '',
    ].join('\n'),
  );
  const env = { ...process.env, SRC_URL: sourceUrl, CTRL_URL: controlUrl, TARGET_URL: targetServer, CI_DB_PASSWORD: ciPassword, NO_COLOR: '1' };
  const asRole = new URL(withDatabase(targetServer, ciDb));
  asRole.username = ciRole;
  asRole.password = ciPassword;
  return {
    prefix,
    sourceUrl,
    controlUrl,
    ciUrl: withDatabase(targetServer, ciDb),
    ciRoleUrl: asRole.toString(),
    ciRole,
    webUrl: withDatabase(targetServer, webDb),
    ciDb,
    webDb,
    planFile: join(dir, 'plan.json'),
    cli: (verb, ...args) => runCli([verb, '-m', manifest, ...args], env),
    async cleanup() {
      for (const db of [ciDb, webDb]) await query(targetServer, `DROP DATABASE IF EXISTS "${db}" WITH (FORCE)`).catch(() => undefined);
      for (const db of [`${prefix}gitlab`, `${prefix}control`]) await query(sourceServer, `DROP DATABASE IF EXISTS "${db}" WITH (FORCE)`).catch(() => undefined);
      for (const server of new Set([sourceServer, targetServer])) await query(server, `DROP ROLE IF EXISTS "${ciRole}"`).catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
    },
  };
}
