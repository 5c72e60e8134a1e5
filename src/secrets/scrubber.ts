/**
 * Knows the secrets of a run and removes them from any text that leaves the process
 * (SPEC §6). A secret is also found in the forms it takes on the way: percent-encoded
 * (as in a URL), JSON-escaped, doubled quotes of an SQL literal, backslash-escaped as in
 * a key=value string. Besides the known secrets, the password of every connection
 * string in the text is masked by its shape (`postgres://user:***@`, `password=***`).
 */
export class Scrubber {
  private readonly known = new Set<string>();
  private forms: string[] = [];

  /** The shortest text taken as a secret: shorter ones would mangle every message. */
  static readonly MIN_LENGTH = 3;

  add(secret: string | null | undefined): this {
    if (!secret || secret.length < Scrubber.MIN_LENGTH || this.known.has(secret)) return this;
    this.known.add(secret);
    const forms = new Set(this.forms);
    for (const f of formsOf(secret)) if (f.length >= Scrubber.MIN_LENGTH) forms.add(f);
    this.forms = [...forms].sort((a, b) => b.length - a.length);
    return this;
  }

  has(secret: string): boolean {
    return this.known.has(secret);
  }

  /** Forgets every secret: for a process that runs one independent job after another (a test worker). */
  clear(): void {
    this.known.clear();
    this.forms = [];
  }

  get size(): number {
    return this.known.size;
  }

  /** The secrets as they were added (their other forms left out). */
  [Symbol.iterator](): Iterator<string> {
    return this.known.values();
  }

  /** Every secret and its known forms replaced by `***`, then every connection password by shape. */
  scrub(text: string): string {
    let out = text;
    for (const f of this.forms) {
      if (!out.includes(f)) continue;
      // A secret equal to a URL scheme (`postgres` in `postgres://`) leaves the scheme.
      out = out.replace(new RegExp(`${escapeRegExp(f)}(?!:\\/\\/)`, 'g'), '***');
    }
    return scrubShapes(out);
  }
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** The forms a secret takes in URLs, JSON, SQL literals and key=value strings. */
function formsOf(secret: string): string[] {
  const userinfo = new URL('postgres://host');
  userinfo.password = secret;
  const base = [
    secret,
    encodeURIComponent(secret),
    encodeURI(secret),
    userinfo.password,
    new URLSearchParams({ p: secret }).toString().slice(2),
    secret.replace(/'/g, "''"),
    secret.replace(/[\\']/g, '\\$&'),
  ];
  const all = new Set(base);
  for (const f of base) all.add(JSON.stringify(f).slice(1, -1));
  return [...all];
}

/** Masks passwords by the shape of connection strings: URL userinfo, `?password=`, `password=` keywords. */
export function scrubShapes(text: string): string {
  return text
    .replace(/(postgres(?:ql)?:\/\/[^:/@\s'"`]*:)(?!\*\*\*@)[^\s/'"`]*@/gi, '$1***@')
    .replace(/([?&]password=)(?!\*\*\*)[^&\s'"`]+/gi, '$1***')
    .replace(/(\bpassword\s*=\s*)(?!\*\*\*)('(?:[^'\\]|\\.)*'|[^\s'"`,;&]+)/gi, '$1***');
}

/** The process's scrubber: every stream, journal row and relayed output goes through it. */
export const scrubber = new Scrubber();

/** `text` scrubbed of these secrets as well as of every secret the process knows. */
export function scrub(text: string, secrets: Iterable<string> = []): string {
  const local = new Scrubber();
  for (const s of secrets) local.add(s);
  return scrubber.scrub(local.scrub(text));
}
