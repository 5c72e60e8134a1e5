import { readFileSync, readdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import type { Command } from 'commander';
import { buildProgram } from '../../../src/cli/main.js';

/**
 * The Dockerfile and the Kubernetes manifests cannot be built or run here (no container
 * engine, no cluster): these tests check what can go stale without either, namely that
 * they name one image, the CLI's real entry point, and only flags the CLI accepts.
 */
const root = join(import.meta.dirname, '..', '..', '..');
const read = (p: string): string => readFileSync(join(root, p), 'utf8');
const pkg = JSON.parse(read('package.json')) as { version: string; engines: { node: string } };
const IMAGE = `registry.example.com/platform/cloudphone-split:${pkg.version}`;

interface Container { name: string; image: string; args: string[] }

function containersOf(doc: unknown): Container[] {
  const found: Container[] = [];
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === 'object') {
      const o = v as Record<string, unknown>;
      if (Array.isArray(o.containers)) found.push(...(o.containers as Container[]));
      else Object.values(o).forEach(walk);
    }
  };
  walk(doc);
  return found;
}

function kubernetesFiles(): Array<{ file: string; docs: unknown[] }> {
  const dir = join(root, 'docs', 'kubernetes');
  return readdirSync(dir)
    .filter((f) => f.endsWith('.yaml'))
    .map((f) => {
      const docs = parseAllDocuments(read(join('docs', 'kubernetes', f)));
      for (const d of docs) expect(d.errors, `${f}: ${d.errors.join('; ')}`).toEqual([]);
      return { file: f, docs: docs.map((d) => d.toJS() as unknown) };
    });
}

const silentIo = { stdout: { write: () => true }, stderr: { write: () => true }, env: {}, exit: () => undefined };

/** The subcommand that `args` names (`retention prune` is two words), and the arguments after it. */
function commandFor(args: string[]): { cmd: Command; rest: string[] } {
  let cmd: Command = buildProgram(silentIo as never);
  let i = 0;
  for (; i < args.length; i++) {
    const sub = cmd.commands.find((c) => c.name() === args[i]);
    if (!sub) break;
    cmd = sub;
  }
  expect(i, `no command in ${args.join(' ')}`).toBeGreaterThan(0);
  return { cmd, rest: args.slice(i) };
}

/** Every flag in `rest` is one the command declares; flags that take a value are followed by one. */
function expectAccepted(args: string[]): void {
  const { cmd, rest } = commandFor(args);
  const positionals: string[] = [];
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i]!;
    if (!a.startsWith('-')) {
      positionals.push(a);
      continue;
    }
    const opt = cmd.options.find((o) => o.long === a || o.short === a || (o.negate && o.long === a));
    expect(opt, `${cmd.name()} does not accept ${a} (${args.join(' ')})`).toBeDefined();
    if (opt!.required || opt!.optional) {
      expect(rest[i + 1], `${a} needs a value`).toBeDefined();
      i++;
    }
  }
  expect(positionals.length, `${cmd.name()} takes at most ${cmd.registeredArguments.length} argument(s)`).toBeLessThanOrEqual(cmd.registeredArguments.length);
}

describe('Dockerfile', () => {
  const lines = read('Dockerfile').split('\n').map((l) => l.trim());

  it('is multi-stage, runs as a non-root user, and starts the CLI the package ships', () => {
    expect(lines.filter((l) => l.startsWith('FROM ')).length).toBeGreaterThanOrEqual(2);
    const user = lines.filter((l) => l.startsWith('USER ')).at(-1);
    expect(user).toBeDefined();
    expect(user).not.toMatch(/^USER (root|0)\b/);
    const entry = lines.find((l) => l.startsWith('ENTRYPOINT '));
    const argv = JSON.parse(entry!.slice('ENTRYPOINT '.length)) as string[];
    const script = argv.find((a) => a.endsWith('cloudphone-split.js'));
    expect(script).toBe('/app/bin/cloudphone-split.js');
    expect(existsSync(join(root, 'bin', 'cloudphone-split.js'))).toBe(true);
    // The node flags are the shebang's (small semispaces keep the copy's memory flat).
    const shebang = read('bin/cloudphone-split.js').split('\n')[0]!;
    for (const flag of argv.filter((a) => a.startsWith('--'))) expect(shebang).toContain(flag);
  });

  it('uses the Node.js major the package requires and checks pg_dump/pg_restore at build time', () => {
    const nodeMajor = /(\d+)/.exec(pkg.engines.node)![1];
    expect(read('Dockerfile')).toMatch(new RegExp(`NODE_IMAGE=node:${nodeMajor}-`));
    expect(lines).toContain('RUN pg_dump --version && pg_restore --version');
    expect(read('Dockerfile')).toMatch(/ARG PG_MAJOR=1[5-9]/);
  });

  it('copies what the built CLI loads at run time', () => {
    const bin = read('bin/cloudphone-split.js');
    expect(bin).toContain("'../dist/src/cli/main.js'");
    for (const dir of ['dist', 'bin', 'node_modules', 'migrations']) expect(lines).toContain(`COPY --from=build /app/${dir} ${dir}`);
  });
});

describe('docs/kubernetes', () => {
  const files = kubernetesFiles();

  it('has an apply Job and the retention CronJob', () => {
    const kinds = files.flatMap((f) => f.docs.map((d) => (d as { kind: string }).kind)).sort();
    expect(kinds).toEqual(['CronJob', 'Job']);
  });

  it('every container runs the image the Dockerfile builds, with flags the CLI accepts', () => {
    const containers = files.flatMap((f) => f.docs.flatMap(containersOf));
    expect(containers.length).toBe(2);
    for (const c of containers) {
      expect(c.image).toBe(IMAGE);
      expectAccepted(c.args);
    }
    expect(read('Dockerfile')).toContain(`docker build -t ${IMAGE} .`);
  });

  it('the apply Job resumes on exit 3 and 5 and stops on what a rerun cannot fix', () => {
    const job = files.find((f) => f.file === 'apply-job.yaml')!.docs[0] as {
      spec: { backoffLimit: number; podFailurePolicy: { rules: Array<{ action: string; onExitCodes?: { values: number[] } }> }; template: { spec: { restartPolicy: string } } };
    };
    expect(job.spec.backoffLimit).toBeGreaterThan(0);
    expect(job.spec.template.spec.restartPolicy).toBe('Never');
    const failJob = job.spec.podFailurePolicy.rules.find((r) => r.action === 'FailJob')!;
    expect(failJob.onExitCodes!.values.sort()).toEqual([1, 2, 4]);
  });

  it('the README shows the same CronJob as docs/kubernetes/retention-cronjob.yaml', () => {
    const readme = read('README.md');
    const blocks = [...readme.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1]!);
    const cron = blocks.find((b) => b.includes('kind: CronJob'));
    expect(cron).toBeDefined();
    expect(cron).toBe(read('docs/kubernetes/retention-cronjob.yaml'));
    expect(readme).toContain('docs/kubernetes/apply-job.yaml');
  });
});

describe('docs/ci/dry-run.yml', () => {
  const text = read('docs/ci/dry-run.yml');

  it('parses, and every cloudphone-split command in it uses flags the CLI accepts', () => {
    const doc = parseAllDocuments(text);
    expect(doc.map((d) => d.errors.length)).toEqual([0]);
    const commands = text
      .replaceAll(/\\\n\s*/g, ' ')
      .split('\n')
      .flatMap((l) => {
        const m = /npx cloudphone-split (.*)$/.exec(l);
        return m ? [m[1]!.split(/\s*(?:[|>]|&&|\|\|)\s*/)[0]!.trim().split(/\s+/)] : [];
      });
    expect(commands.length).toBeGreaterThanOrEqual(3);
    for (const args of commands) expectAccepted(args);
    expect(commands.some((a) => a.includes('--format') && a.includes('markdown'))).toBe(true);
  });
});
