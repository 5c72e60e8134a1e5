import { expect, it } from 'vitest';
import { servers } from '../harness/servers.js';
import { splitFixture, sampleTemplate } from './helpers/split-fixture.js';

it('scratch', async () => {
  for (const scale of [5, 10]) {
    let t = Date.now();
    const tpl = await sampleTemplate(servers().main, scale);
    console.log('template', scale, Date.now() - t); t = Date.now();
    const fx = await splitFixture({ source: servers().main, template: tpl });
    console.log('clone', Date.now() - t); t = Date.now();
    const plan = await fx.plan();
    console.log(plan.steps.filter((s) => s.kind === 'copy_data').slice(0, 5).map((s) => `${s.id} ${(s as any).bytes}`));
    t = Date.now();
    const r = await fx.cli('apply', fx.planFile, '--yes', '--jobs', '2');
    console.log('apply', Date.now() - t, r.code);
    console.log(r.stdout.split('\n').filter((l) => /done   (copy_data|create_indexes|grant|create_database|create_schema)/.test(l)).join('\n'));
    await fx.cleanup();
  }
});
