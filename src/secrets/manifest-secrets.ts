import { connectionSecrets, looksLikeConnection } from './connection-secrets.js';

const REFERENCE = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;
const SECRET_NAME = /pass|secret|token|key|pwd|credential/i;

/**
 * The secrets a manifest's text points at, read without validating it (it may not be
 * valid yet, and its errors must already be scrubbed): for every `${VAR}` and
 * `${VAR:-default}` it references, the passwords of a value that is a connection
 * string, and the whole value when the variable's name says it is a secret or the line
 * it is on is a password's. Defaults count as values.
 */
export function manifestTextSecrets(text: string, env: NodeJS.ProcessEnv): string[] {
  const out = new Set<string>();
  for (const line of text.split(/\r?\n/)) {
    const passwordLine = /pass(?:word)?\s*[:=]|:\/\/[^\s@]*:[^\s@]*\$\{/i.test(line);
    for (const m of line.matchAll(REFERENCE)) {
      const name = m[1]!;
      for (const value of [env[name], m[2]]) {
        if (!value) continue;
        if (looksLikeConnection(value)) for (const s of connectionSecrets(value)) out.add(s);
        if (passwordLine || SECRET_NAME.test(name)) out.add(value);
      }
    }
    // A connection string written as text (a manifest error, reported with it scrubbed).
    const literal = /(?:url:|:)\s*(['"]?)(postgres(?:ql)?:\/\/\S+|[^$'"\n]*password\s*=.*)\1\s*$/i.exec(line)?.[2];
    if (literal) for (const s of connectionSecrets(literal)) if (!s.includes('${')) out.add(s);
    const pw = /^\s*password:\s*(['"]?)([^'"$\s][^'"\n]*)\1\s*$/.exec(line)?.[2];
    if (pw && !pw.includes('${')) out.add(pw.trim());
  }
  return [...out];
}
