import { describe, expect, it } from 'vitest';
import { functionsUsingTables, type SourceFunction } from '../../../src/catalog/outside-functions.js';

const fn = (key: string, body: string): SourceFunction => ({ key, schema: key.slice(0, key.indexOf('.')), body, config: null });

describe('functionsUsingTables', () => {
  const functions = [
    fn('public.post_count(p bigint)', 'SELECT count(*) FROM public.posts WHERE author = p'),
    fn('public.tag(x text, e email)', 'INSERT INTO public.posts (body) VALUES (x)'),
    fn('public.total()', 'SELECT sum(score) FROM public.posts'),
    fn('jobs.audit(n integer)', 'SELECT 1 FROM public.users'),
  ];

  it('names each function reading or writing the tables, but the split\'s own, however its key is written (quoted, as the plan reads it, or as a session does)', () => {
    const own = new Set(['public.post_count("p" bigint)', 'public.tag("x" "text", "e" "public"."email")']);
    expect(functionsUsingTables(functions, ['public.posts'], own)).toEqual(['function public.total() reads public.posts']);
    expect(functionsUsingTables(functions, ['public.posts'])).toEqual([
      'function public.post_count(p bigint) reads public.posts',
      'function public.tag(x text, e email) writes to public.posts',
      'function public.total() reads public.posts',
    ]);
  });
});
