/** Text for a Markdown table cell: pipes escaped, line breaks flattened, code spans kept intact. */
export function mdCell(text: string): string {
  return text.replaceAll('\\', '\\\\').replaceAll('|', '\\|').replaceAll(/\r?\n/g, ' ');
}

/** An inline code span that holds any text, backticks included (CommonMark: a longer fence). */
export function mdCode(text: string): string {
  const runs = text.match(/`+/g) ?? [];
  const fence = '`'.repeat(Math.max(0, ...runs.map((r) => r.length)) + 1);
  const pad = text.startsWith('`') || text.endsWith('`') ? ' ' : '';
  return `${fence}${pad}${text}${pad}${fence}`;
}

/** A code span inside a table cell: GFM splits cells at `|` even inside code, so it is escaped there too. */
export function mdCodeCell(text: string): string {
  return mdCode(text.replaceAll(/\r?\n/g, ' ')).replaceAll('|', '\\|');
}

/** A fenced code block that no line of `text` can close early. */
export function mdBlock(text: string, info = ''): string {
  const runs = text.match(/^`{3,}/gm) ?? [];
  const fence = '`'.repeat(Math.max(3, ...runs.map((r) => r.length + 1)));
  return `${fence}${info}\n${text.replace(/\n$/, '')}\n${fence}`;
}

/** A Markdown table; every cell is escaped. */
export function mdTable(head: string[], rows: string[][]): string {
  const line = (cells: string[]): string => `| ${cells.join(' | ')} |`;
  return [line(head), line(head.map(() => '---')), ...rows.map((r) => line(r))].join('\n');
}
