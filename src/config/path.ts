import { ConfigEditError } from './config-edit-error.js';

const SEGMENT = /^(?:\[(\d+)\]|\["([^"]*)"\]|\['([^']*)'\]|([^.[\]]+))/;

/**
 * Splits a dotted path of a YAML or JSON entry: `database.url`, `databases.0.url`,
 * `databases[0].url`. Segments are strings; a segment made of digits also indexes
 * a list. A key that holds a dot is written in brackets: `["my.key"].url`.
 */
export function splitPath(path: string): string[] {
  const out: string[] = [];
  let rest = path;
  while (rest.length > 0) {
    const m = SEGMENT.exec(rest);
    if (!m) throw bad(path);
    out.push(m[1] ?? m[2] ?? m[3] ?? m[4] ?? '');
    rest = rest.slice(m[0].length);
    if (rest.startsWith('.')) {
      rest = rest.slice(1);
      if (rest.length === 0) throw bad(path);
    } else if (rest.length > 0 && !rest.startsWith('[')) {
      throw bad(path);
    }
  }
  if (out.length === 0) throw bad(path);
  return out;
}

function bad(path: string): ConfigEditError {
  return new ConfigEditError(
    `"${path}" is not a valid dotted path`,
    'write the path as keys separated by dots, e.g. database.url or databases.0.url',
  );
}
