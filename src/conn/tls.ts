import { readFileSync } from 'node:fs';
import type { ConnectionOptions } from 'node:tls';
import { BadInputError } from '../errors.js';
import type { Connection } from './connection.js';

/** libpq's `sslmode` values. */
export const SSL_MODES = ['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full'] as const;
export type SslMode = (typeof SSL_MODES)[number];

/** The TLS settings of one connection, as libpq reads them (paths, not file contents). */
export interface TlsSettings {
  /** null: not written (libpq's default is prefer; node-postgres connects without TLS). */
  sslmode: SslMode | null;
  /** A PEM file of trusted CAs, or `system` (the system's store). */
  sslrootcert: string | null;
  sslcert: string | null;
  sslkey: string | null;
}

export function isSslMode(v: string): v is SslMode {
  return (SSL_MODES as readonly string[]).includes(v);
}

/** The TLS settings of a connection; a bad `sslmode` is bad input (exit 2) naming `where`. */
export function tlsSettings(c: Connection, where: string): TlsSettings {
  const mode = c.params.sslmode ?? null;
  if (mode !== null && !isSslMode(mode)) {
    throw new BadInputError(`${where}: sslmode ${JSON.stringify(mode)} is not one libpq knows`, `write one of ${SSL_MODES.join(', ')}`);
  }
  return {
    sslmode: mode,
    sslrootcert: c.params.sslrootcert || null,
    sslcert: c.params.sslcert || null,
    sslkey: c.params.sslkey || null,
  };
}

/**
 * What libpq verifies for these settings: nothing, the certificate chain (`ca`), or
 * the chain and the host name (`full`). `require` with a root certificate verifies
 * the chain, as libpq does; `sslrootcert=system` implies verify-full (libpq 16+).
 */
export function verification(t: TlsSettings): 'none' | 'ca' | 'full' {
  const mode = t.sslmode ?? (t.sslrootcert === 'system' ? 'verify-full' : null);
  if (mode === 'verify-full') return 'full';
  if (mode === 'verify-ca') return 'ca';
  if (mode === 'require' && t.sslrootcert !== null) return 'ca';
  return 'none';
}

function readPem(path: string, key: string, where: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'unreadable';
    throw new BadInputError(`${where}: cannot read the ${key} file ${path} (${code})`, `check the ${key} path and that this user may read it`, { cause: err });
  }
}

/**
 * node-postgres's `ssl` option for these settings, built explicitly so that each
 * sslmode means what it means to libpq:
 * - unset or `disable`: no TLS (node-postgres cannot fall back, so unset is not `prefer`);
 * - `allow`, `prefer`, `require` without a root certificate: TLS, the certificate not
 *   verified (a server without TLS is refused, where libpq would fall back to plain);
 * - `verify-ca`, or `require` with `sslrootcert`: the chain is verified, not the host name;
 * - `verify-full`: the chain and the host name.
 * Without `sslrootcert` (or with `system`) the chain is checked against Node's CA store
 * (and NODE_EXTRA_CA_CERTS); libpq would read ~/.postgresql/root.crt instead.
 */
export function nodeTlsOptions(t: TlsSettings, where: string): false | ConnectionOptions {
  if (t.sslmode === null && t.sslrootcert === null) return false;
  if (t.sslmode === 'disable') return false;
  const out: ConnectionOptions = {};
  if (t.sslcert !== null) out.cert = readPem(t.sslcert, 'sslcert', where);
  if (t.sslkey !== null) out.key = readPem(t.sslkey, 'sslkey', where);
  const verify = verification(t);
  if (verify === 'none') {
    out.rejectUnauthorized = false;
    return out;
  }
  if (t.sslrootcert !== null && t.sslrootcert !== 'system') out.ca = readPem(t.sslrootcert, 'sslrootcert', where);
  out.rejectUnauthorized = true;
  // verify-ca: the chain only (Node checks the host name unless told not to).
  if (verify === 'ca') out.checkServerIdentity = () => undefined;
  return out;
}
