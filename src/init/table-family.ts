/** Words whose tables belong to billing, whatever the exact word. */
const BILLING_WORDS = new Set([
  'billing', 'bill', 'order', 'payment', 'invoice', 'coupon', 'plan', 'subscription', 'balance', 'charge', 'refund',
  'price', 'pricing', 'checkout', 'cart', 'wallet', 'discount', 'receipt', 'tax', 'purchase', 'payout',
]);

/** Words that say nothing about what a table holds. */
const NOISE = new Set(['tbl', 'tb', 't', 'app', 'core', 'public']);

/** The words of a table name, lowercased: `UserLoginHistory` and `user_login_history` give the same. */
export function nameWords(name: string): string[] {
  return name
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1_$2')
    .toLowerCase()
    .split(/[^\p{L}\p{N}]+/u)
    .filter((w) => w !== '');
}

/** English singular of a plural word, good enough for table names (devices → device, categories → category). */
export function singular(word: string): string {
  if (word.length <= 3) return word;
  if (word.endsWith('ies')) return `${word.slice(0, -3)}y`;
  if (/(ss|x|ch|sh)es$/.test(word)) return word.slice(0, -2);
  if (word.endsWith('s') && !/(ss|us|is)$/.test(word)) return word.slice(0, -1);
  return word;
}

/**
 * The family of a table: the singular of its first meaningful word
 * (`device_snapshots` → `device`, `users` → `user`, `"Billing Audit Log"` → `billing`),
 * or null when its name has no letters to go by.
 */
export function tableFamily(name: string): string | null {
  const words = nameWords(name);
  const first = words.find((w) => !NOISE.has(w)) ?? words[0];
  return first === undefined ? null : singular(first);
}

/** The domain of a family: `billing` for orders, payments, invoices...; the family itself otherwise. */
export function domainOf(family: string | null): string | null {
  if (family === null) return null;
  return BILLING_WORDS.has(family) ? 'billing' : family;
}

/** The domain of a table name (see tableFamily and domainOf). */
export function tableDomain(name: string): string | null {
  return domainOf(tableFamily(name));
}

/**
 * Names written as one run of lowercase letters (`channelmembers`, `publicchannels`, as
 * Mattermost names its tables) split at the names of the other tables: a name that starts
 * with another table's name or its singular (`channel`, 4 letters at least) gets a word
 * break there (`channel_members`), and one that starts with a word that says nothing
 * (`public`) before a table's name gets one after it (`public_channels`). Names with words
 * of their own already are kept. Pure.
 */
export function splitAtTableNames(names: readonly string[]): (name: string) => string {
  const singulars = new Set<string>();
  const plurals = new Set<string>();
  for (const n of names) {
    const words = nameWords(n);
    if (words.length !== 1 || words[0]!.length < 4) continue;
    singulars.add(singular(words[0]!));
    plurals.add(words[0]!);
  }
  const vocabulary = new Set([...singulars, ...plurals]);
  const longestFirst = (set: Set<string>) => [...set].sort((a, b) => b.length - a.length || a.localeCompare(b));
  // Singulars first: `usersettings` is user + settings, not users + ettings.
  const heads = [...longestFirst(singulars), ...longestFirst(plurals)];
  return (name) => {
    const words = nameWords(name);
    if (words.length !== 1) return name;
    const w = words[0]!;
    // The rest is a word of three letters at least: `channels` is not channel + s.
    const head = heads.find((v) => w.length - v.length >= 3 && w.startsWith(v));
    if (head) return `${head}_${w.slice(head.length)}`;
    const noise = [...NOISE, 'all', 'public', 'private', 'shared', 'global'].find((x) => w.startsWith(x) && vocabulary.has(w.slice(x.length)));
    return noise ? `${noise}_${w.slice(noise.length)}` : name;
  };
}
