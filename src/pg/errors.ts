import { BadInputError, ServerError, type SplitError } from '../errors.js';
import { redact, databaseOf, userOf } from './url.js';

/**
 * Turns a failed connection into an error that names the problem and the fix,
 * for the cases a newcomer meets first.
 */
export function connectError(err: unknown, url: string, what: string): SplitError {
  const e = err as { code?: string; message?: string };
  const shown = redact(url);
  const msg = e.message ?? String(err);
  switch (e.code) {
    case 'ECONNREFUSED':
      return new ServerError(`cannot reach the ${what} server at ${shown}: connection refused`, 'is PostgreSQL running there, and are host and port right?', { cause: err });
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return new ServerError(`cannot resolve the host of the ${what} server in ${shown}`, 'check the host name in the URL', { cause: err });
    case 'ETIMEDOUT':
      return new ServerError(`connecting to the ${what} server at ${shown} timed out`, 'check the network path and firewall to that server', { cause: err });
    case '28P01':
    case '28000':
      return new BadInputError(`the ${what} server at ${shown} rejected user "${userOf(url)}": ${msg}`, 'check the user and password in the URL (or the variable it comes from)', { cause: err });
    case '3D000':
      return new BadInputError(`database "${databaseOf(url)}" does not exist on the ${what} server at ${shown}`, 'check the database name at the end of the URL; `psql -l` lists them', { cause: err });
    default:
      return new ServerError(`cannot connect to the ${what} server at ${shown}: ${msg}`, undefined, { cause: err });
  }
}
