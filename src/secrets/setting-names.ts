/**
 * A database or role setting that holds a secret by its name: an application's own
 * setting (a name with a dot, `app.settings.jwt_secret`, as Supabase keeps its JWT secret)
 * named like a password, token, key or secret. PostgreSQL's own settings hold none.
 */
export function isSecretSetting(name: string): boolean {
  return name.includes('.') && /passw(?:or)?d|pass|pwd|(?<![a-z0-9])pw(?![a-z0-9])|secret|token|api[_-]?key|private[_-]?key|credentials?|jwt/i.test(name);
}

/**
 * `name=value` settings without those holding a secret, and the names of those left out:
 * their values are never read into a catalog, a plan, a journal or a statement.
 */
export function withoutSecretSettings(settings: readonly string[]): { kept: string[]; secret: string[] } {
  const kept: string[] = [];
  const secret: string[] = [];
  for (const s of settings) {
    const name = s.slice(0, Math.max(0, s.indexOf('=')));
    if (isSecretSetting(name)) secret.push(name);
    else kept.push(s);
  }
  return { kept, secret };
}
