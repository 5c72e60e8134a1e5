import pg from 'pg';

/** What tells two servers apart, and their major version. */
export interface ServerIdentity {
  /** server_version_num / 10000. */
  major: number;
  version: string;
  /** The cluster's system identifier and data directory: equal for two URLs of one server. */
  cluster: string;
}

export async function serverIdentity(url: string): Promise<ServerIdentity> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const { rows } = await c.query<{ num: number; version: string; cluster: string }>(
      `SELECT current_setting('server_version_num')::int AS num, current_setting('server_version') AS version,
              (SELECT system_identifier::text FROM pg_control_system()) || ':' || current_setting('data_directory') AS cluster`,
    );
    const r = rows[0]!;
    return { major: Math.floor(r.num / 10000), version: r.version, cluster: r.cluster };
  } finally {
    await c.end();
  }
}
