import { BadInputError, ServerError, type SplitError } from '../errors.js';
import { redact, databaseOf, userOf } from './url.js';

/** The server refused the login itself (wrong password, no such role, pg_hba): no retry helps, the URL must change. */
export function isLoginRejected(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === '28P01' || code === '28000';
}

/**
 * Turns a failed connection into an error that names the problem and the fix,
 * for the cases a newcomer meets first.
 */
export function connectError(err: unknown, url: string, what: string): SplitError {
  const e = err as { code?: string; message?: string };
  const shown = redact(url);
  const msg = e.message ?? String(err);
  // A password command that failed: bad input, already saying why (never its output).
  if (err instanceof BadInputError) return new BadInputError(`cannot connect to the ${what} server at ${shown}: ${msg}`, err.hint, { cause: err });
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
    case 'ERR_TLS_CERT_ALTNAME_INVALID':
      return new ServerError(
        `the ${what} server at ${shown} presented a certificate for another host name (sslmode=verify-full): ${msg}`,
        'connect with the host name the certificate names, or use sslmode=verify-ca to check the chain only',
        { cause: err },
      );
    case 'SELF_SIGNED_CERT_IN_CHAIN':
    case 'DEPTH_ZERO_SELF_SIGNED_CERT':
    case 'UNABLE_TO_VERIFY_LEAF_SIGNATURE':
    case 'UNABLE_TO_GET_ISSUER_CERT':
    case 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY':
    case 'CERT_SIGNATURE_FAILURE':
      return new ServerError(
        `the certificate of the ${what} server at ${shown} is not signed by a trusted CA (${e.code}): ${msg}`,
        "set sslrootcert to the CA bundle of the server's certificate (for RDS, the rds-ca bundle)",
        { cause: err },
      );
    case 'CERT_HAS_EXPIRED':
    case 'CERT_NOT_YET_VALID':
      return new ServerError(`the certificate of the ${what} server at ${shown} is not valid now (${e.code})`, 'renew the server certificate, or check this machine\'s clock', { cause: err });
    default:
      if (/does not support SSL/i.test(msg)) {
        return new ServerError(
          `the ${what} server at ${shown} does not accept TLS, and the connection asks for it (sslmode)`,
          'enable ssl on the server, or write sslmode=disable (node-postgres cannot fall back to plain text as libpq does for prefer/allow)',
          { cause: err },
        );
      }
      return new ServerError(`cannot connect to the ${what} server at ${shown}: ${msg}`, undefined, { cause: err });
  }
}
