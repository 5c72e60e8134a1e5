import { ident } from '../pg/quote.js';
import type { StepContext } from '../steps/handler.js';
import { quietStatementLog } from '../pg/quiet-log.js';

/** What a session of the tool's role logs of its statements once it has turned what it may off (quietStatementLog). */
export interface StatementLogging {
  user: string;
  logStatement: string;
  minDuration: number;
  minErrorStatement: string;
  /** pgaudit.log when the extension is loaded, else null. */
  audit: string | null;
}

/** Severities at which a failing statement is logged with its text (log_min_error_statement at or below `error`). */
const LOGS_FAILING = new Set(['debug5', 'debug4', 'debug3', 'debug2', 'debug1', 'info', 'notice', 'warning', 'error']);

const GRANT = (user: string) =>
  `as a superuser: GRANT SET ON PARAMETER log_statement, log_min_duration_statement, log_min_error_statement TO ${ident(user)} (PostgreSQL 15 and later), or run as a superuser`;

/**
 * Whether CREATE SUBSCRIPTION, whose connection string holds a replication role's
 * password, would reach the server log of `server`: refused when it certainly would
 * (log_statement ddl, mod or all; log_min_duration_statement 0; pgaudit logging DDL),
 * a warning when it would only if slow or failing. Pure.
 */
export function statementLogVerdict(server: string, why: string, s: StatementLogging): { problems: string[]; warnings: string[] } {
  const problems: string[] = [];
  const warnings: string[] = [];
  const leak = `CREATE SUBSCRIPTION (${why}) would write a replication password into the server log`;
  if (['ddl', 'mod', 'all'].includes(s.logStatement)) {
    problems.push(`server ${server}: log_statement is ${s.logStatement} and role ${s.user} may not turn it off for its session: ${leak}; ${GRANT(s.user)}, or set log_statement to none`);
  }
  if (s.minDuration === 0) {
    problems.push(`server ${server}: log_min_duration_statement is 0 and role ${s.user} may not turn it off for its session: ${leak}; ${GRANT(s.user)}`);
  }
  const audit = (s.audit ?? '').toLowerCase().split(',').map((x) => x.trim());
  if (audit.some((x) => x === 'all' || x === 'ddl')) {
    problems.push(`server ${server}: pgaudit.log is ${s.audit}, which logs every DDL statement: ${leak}; as a superuser, remove ddl from pgaudit.log for role ${s.user} (ALTER ROLE ${ident(s.user)} SET pgaudit.log = 'none') or run as a superuser`);
  }
  if (s.minDuration > 0) {
    warnings.push(`server ${server}: log_min_duration_statement is ${s.minDuration} ms and role ${s.user} may not turn it off: a CREATE SUBSCRIPTION (${why}) slower than that is logged with its replication password; ${GRANT(s.user)}`);
  }
  if (LOGS_FAILING.has(s.minErrorStatement)) {
    warnings.push(`server ${server}: log_min_error_statement is ${s.minErrorStatement} and role ${s.user} may not raise it: a CREATE SUBSCRIPTION (${why}) that fails is logged with its replication password; ${GRANT(s.user)}`);
  }
  return { problems, warnings };
}

/** Reads, from a session of the tool's role on `server` that has turned off what it may, what that session would log. */
export async function readStatementLogging(ctx: StepContext, server: string): Promise<StatementLogging> {
  const client = await ctx.pools.client(server);
  try {
    await quietStatementLog(client);
    const r = await client.query<{ user: string; log_statement: string; min_duration: string; min_error: string; audit: string | null }>(
      `SELECT current_user AS user, current_setting('log_statement') AS log_statement,
              current_setting('log_min_duration_statement') AS min_duration,
              current_setting('log_min_error_statement') AS min_error,
              current_setting('pgaudit.log', true) AS audit`,
    );
    const row = r.rows[0]!;
    // log_min_duration_statement reads back with a unit ("-1", "0", "250ms", "1s").
    const d = /^(-?\d+)\s*(ms|s|min)?$/.exec(row.min_duration.trim());
    const ms = d ? Number(d[1]) * (d[2] === 's' ? 1000 : d[2] === 'min' ? 60_000 : 1) : -1;
    return { user: row.user, logStatement: row.log_statement, minDuration: ms, minErrorStatement: row.min_error, audit: row.audit };
  } finally {
    await client.end();
  }
}
