import bytes from 'bytes';
import prettyBytes from 'pretty-bytes';

/** Sizes as people read them: 1024-based, labelled as such (`1.5 KiB`, `300 MiB`). */
export function formatBytes(n: number): string {
  return prettyBytes(n, { binary: true, maximumFractionDigits: 1 });
}

/**
 * `1048576`, `64kB`, `16MB`, `1.5 gb` → bytes (case-insensitive, powers of 1024, as
 * PostgreSQL's own settings read them); null when unreadable. The shape is checked
 * first because `bytes.parse` reads `12XB` as 12.
 */
export function parseByteSize(text: string): number | null {
  if (!/^\s*\d+(?:\.\d+)?\s*(?:b|kb|mb|gb|tb|pb)?\s*$/i.test(text)) return null;
  const n = bytes.parse(text.trim());
  return n === null || !Number.isFinite(n) ? null : Math.round(n);
}
