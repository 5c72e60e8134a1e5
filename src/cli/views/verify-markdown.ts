import type { Check } from '../../verify/check.js';
import type { VerifyResult } from '../../verify/verify.js';
import { VERIFY_HINTS } from './verify.js';
import { mdCell, mdCodeCell, mdTable } from './markdown.js';

/**
 * `verify --format markdown`: failures first (each with what to do), then one line per
 * service counting what passed. Pure: the same result gives the same text.
 */
export function verifyMarkdown(result: VerifyResult): string {
  const out: string[] = [];
  const failed = result.checks.filter((c) => !c.ok);
  out.push(`### cloudphone-split verify: ${result.ok ? `all ${result.checks.length} checks passed` : `${failed.length} of ${result.checks.length} checks found a difference`}`);
  if (failed.length > 0) {
    out.push('');
    out.push(
      mdTable(
        ['', 'service', 'check', 'object', 'difference'],
        failed.map((c) => ['✗', mdCell(c.service ?? ''), c.kind, c.table ? mdCodeCell(c.table) : '', mdCell(c.detail)]),
      ),
    );
    const kinds = [...new Set(failed.map((c) => c.kind))];
    out.push('');
    out.push('What to do:');
    for (const k of kinds) if (VERIFY_HINTS[k]) out.push(`- **${k}**: ${mdCell(VERIFY_HINTS[k])}`);
  }
  const by = new Map<string, Check[]>();
  for (const c of result.checks) by.set(c.service ?? '', [...(by.get(c.service ?? '') ?? []), c]);
  const rows = [...by]
    .sort(([a], [b]) => (a === '' ? 1 : b === '' ? -1 : a.localeCompare(b)))
    .map(([service, checks]) => {
      const kinds = new Map<string, number>();
      for (const c of checks) if (c.ok) kinds.set(c.kind, (kinds.get(c.kind) ?? 0) + 1);
      const bad = checks.filter((c) => !c.ok).length;
      return [bad ? '✗' : '✓', mdCell(service || 'split'), [...kinds].map(([k, n]) => `${n} ${k}`).join(', '), bad ? String(bad) : ''];
    });
  out.push('');
  out.push(mdTable(['', 'service', 'passed', 'differences'], rows));
  out.push('');
  return out.join('\n');
}
