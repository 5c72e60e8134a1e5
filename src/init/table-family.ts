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
