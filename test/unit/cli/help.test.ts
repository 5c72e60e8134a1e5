import { describe, expect, it } from 'vitest';
import { buildProgram } from '../../../src/cli/main.js';

function io() {
  let out = '';
  return {
    text: () => out,
    io: { stdout: { write: (s: string) => ((out += s), true) }, stderr: { write: () => true }, env: {}, exit: () => undefined },
  };
}

describe('--help of every command', () => {
  const program = buildProgram(io().io as never);
  const commands = program.commands.flatMap((c) => [c, ...c.commands]);

  it.each(commands.map((c) => [c.name(), c] as const))('%s: the description flows as one paragraph, wrapped once', (_name, cmd) => {
    // A line break inside a sentence would come out as a short ragged line after commander wraps.
    expect(cmd.description()).not.toMatch(/[^\n]\n[^\n ]/);
    const help = cmd.helpInformation({ error: false });
    const description = help.split('\n\n')[1] ?? '';
    const lines = description.split('\n');
    // Every line but the last of a paragraph is filled to near the wrap width (80 columns).
    for (const line of lines.slice(0, -1)) expect(line.length, line).toBeGreaterThan(60);
  });
});

describe('top-level --help', () => {
  it('fits 80 columns and never breaks a line mid-sentence', () => {
    const { io: fake, text } = io();
    const program = buildProgram(fake as never);
    program.outputHelp();
    const help = text();
    expect(help).toContain('Exit codes:');
    expect(help).toContain('cloudphone-split verify --checksums');
    for (const line of help.split('\n')) expect(line.length, line).toBeLessThanOrEqual(80);
    // A wrapped example would leave a line that starts in column 0 with a lower-case word.
    const laidOut = help.slice(help.indexOf('The usual path:'));
    expect(laidOut.length).toBeGreaterThan(100);
    for (const line of laidOut.split('\n')) expect(line, 'a wrapped line').not.toMatch(/^[a-z]/);
  });
});
