import type { Manifest, ManifestProblem } from './model.js';

const VAR_ONLY = /^\$\{[A-Za-z_][A-Za-z0-9_]*\}$/;
const WITH_DEFAULT = /\$\{[A-Za-z_][A-Za-z0-9_]*:-[^}]*\}/;

/**
 * The password parts of a connection string template, as written: the URL userinfo
 * password, `?password=` / `&password=`, a key=value `password=`; or, when the whole
 * value is one `${VAR:-default}`, the password parts of the default.
 */
function passwordParts(value: string): string[] {
  const out: string[] = [];
  const whole = /^\$\{[A-Za-z_][A-Za-z0-9_]*:-([^}]*)\}$/.exec(value);
  if (whole) return passwordParts(whole[1]!).length > 0 ? [value] : [];
  const info = /^[a-z][a-z0-9+.-]*:\/\/([^/?]*)@/i.exec(value)?.[1];
  const colon = info?.indexOf(':') ?? -1;
  if (info !== undefined && colon !== -1) out.push(info.slice(colon + 1));
  const query = /[?&]password=([^&]*)/i.exec(value)?.[1];
  if (query !== undefined) out.push(query);
  const keyword = /(?:^|\s)password\s*=\s*('(?:[^'\\]|\\.)*'|\S+)/i.exec(value)?.[1];
  if (keyword !== undefined && !/^[a-z][a-z0-9+.-]*:\/\//i.test(value)) out.push(keyword.replace(/^'([^]*)'$/, '$1'));
  return out.filter((p) => p !== '');
}

const DEFAULT_MESSAGE =
  'gives the password a default (${VAR:-...}), which would be copied into the plan file and the journal as text';

/**
 * A plan file holds the manifest as written, so a password written in the manifest
 * (literally, or as the default of a `${VAR:-default}`) would end up in it: each one is
 * a problem, with the `${VAR}` to use. Passwords come from variables without defaults.
 */
export function literalSecretProblems(m: Manifest, file: string): ManifestProblem[] {
  const problems: ManifestProblem[] = [];
  const urls: Array<[string, string]> = [['source.url', m.source.url]];
  if (m.control) urls.push(['control.url', m.control.url]);
  for (const [name, url] of Object.entries(m.servers)) urls.push([`servers.${name}`, url]);
  for (const [path, url] of urls) {
    const parts = passwordParts(url);
    if (parts.some((p) => WITH_DEFAULT.test(p))) {
      problems.push({
        file,
        path,
        message: DEFAULT_MESSAGE,
        fix: 'write the password (or the whole connection string) as ${VAR} without a default, and set it in the environment',
      });
    } else if (parts.some((p) => !VAR_ONLY.test(p))) {
      problems.push({
        file,
        path,
        message: 'holds a password written as text, which would be copied into the plan file',
        fix: 'write the whole connection string as ${VAR} (e.g. url: ${CLOUDPHONE_CORE_URL}) or the password as ${VAR}, and set it in the environment',
      });
    }
  }
  for (const s of m.services) {
    const pw = s.role?.password;
    if (!pw || VAR_ONLY.test(pw)) continue;
    const variable = `\${${s.name.toUpperCase().replace(/[^A-Z0-9]+/g, '_')}_DB_PASSWORD}`;
    problems.push({
      file,
      path: `services.${s.name}.role.password`,
      message: WITH_DEFAULT.test(pw) ? DEFAULT_MESSAGE : 'is written as text, which would be copied into the plan file',
      fix: `write password: ${variable} (no default) and set it in the environment`,
    });
  }
  return problems;
}
