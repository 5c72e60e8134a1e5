import { passwordOf } from '../conn/connection.js';

/** Text that is meant as a connection string (any form), even a malformed one. */
export function looksLikeConnection(text: string): boolean {
  return /^\s*postgres(?:ql)?:\/\//i.test(text) || /(?:^|\s)password\s*=/i.test(text);
}

function decoded(s: string): string | null {
  try {
    return decodeURIComponent(s);
  } catch {
    return null;
  }
}

/**
 * The passwords a connection string holds, in any form (URL userinfo, `?password=`,
 * key=value), as parsed and as written, so that a string that does not parse (an
 * unencoded `#`, a stray `%`) still has its password known before any error names it.
 */
export function connectionSecrets(text: string): string[] {
  const out: string[] = [];
  const pw = passwordOf(text);
  if (pw) out.push(pw);
  const info = /^\s*postgres(?:ql)?:\/\/[^:/@\s]*:(\S*)@/i.exec(text)?.[1];
  if (info) out.push(info, decoded(info) ?? info);
  const query = /[?&]password=([^&\s]*)/i.exec(text)?.[1];
  if (query) out.push(query, decoded(query) ?? query);
  const keyword = /(?:^|\s)password\s*=\s*('(?:[^'\\]|\\.)*'|\S+)/i.exec(text)?.[1];
  if (keyword) out.push(keyword, keyword.replace(/^'([^]*)'$/, '$1').replace(/\\(.)/g, '$1'));
  return [...new Set(out)].filter((s) => s !== '');
}
