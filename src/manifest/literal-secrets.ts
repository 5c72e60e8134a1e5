import type { Manifest, ManifestProblem } from './model.js';

const VAR_ONLY = /^\$\{[A-Za-z_][A-Za-z0-9_]*(:-[^}]*)?\}$/;

/** The password part of `scheme://user:password@host`, as written (null when there is none). */
function urlPassword(url: string): string | null {
  const m = /^[a-z][a-z0-9+.-]*:\/\/[^/@:]*:([^@]*)@/i.exec(url);
  return m ? m[1]! : null;
}

/**
 * A plan file holds the manifest as written, so a password written literally in
 * the manifest would end up in it: each one is a problem, with the `${VAR}` to use.
 */
export function literalSecretProblems(m: Manifest, file: string): ManifestProblem[] {
  const problems: ManifestProblem[] = [];
  const urls: Array<[string, string]> = [['source.url', m.source.url]];
  if (m.control) urls.push(['control.url', m.control.url]);
  for (const [name, url] of Object.entries(m.servers)) urls.push([`servers.${name}`, url]);
  for (const [path, url] of urls) {
    const pw = urlPassword(url);
    if (pw !== null && pw !== '' && !VAR_ONLY.test(pw) && !url.startsWith('${')) {
      problems.push({
        file,
        path,
        message: 'holds a password written as text, which would be copied into the plan file',
        fix: 'write the whole URL as ${VAR} (e.g. url: ${CLOUDPHONE_CORE_URL}) or the password as ${VAR}, and set it in the environment',
      });
    }
  }
  for (const s of m.services) {
    const pw = s.role?.password;
    if (pw && !VAR_ONLY.test(pw)) {
      problems.push({
        file,
        path: `services.${s.name}.role.password`,
        message: 'is written as text, which would be copied into the plan file',
        fix: `write password: \${${s.name.toUpperCase().replace(/[^A-Z0-9]+/g, '_')}_DB_PASSWORD} and set it in the environment`,
      });
    }
  }
  return problems;
}
