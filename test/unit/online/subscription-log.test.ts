import { describe, expect, it } from 'vitest';
import { statementLogVerdict } from '../../../src/online/subscription-log.js';
import { replicationRoleProblems } from '../../../src/online/online-preflight.js';

const quiet = { user: 'split_admin', logStatement: 'none', minDuration: -1, minErrorStatement: 'panic', audit: null };

describe('statementLogVerdict: would CREATE SUBSCRIPTION reach the server log with its password', () => {
  it('refuses what logs it certainly: log_statement ddl, mod or all, every statement timed, pgaudit logging DDL', () => {
    expect(statementLogVerdict('tgt', 'replication', quiet)).toEqual({ problems: [], warnings: [] });
    for (const logStatement of ['ddl', 'mod', 'all']) {
      expect(statementLogVerdict('tgt', 'replication', { ...quiet, logStatement }).problems).toEqual([expect.stringMatching(new RegExp(`^server tgt: log_statement is ${logStatement} and role split_admin may not turn it off`))]);
    }
    expect(statementLogVerdict('tgt', 'replication', { ...quiet, minDuration: 0 }).problems).toEqual([expect.stringContaining('log_min_duration_statement is 0')]);
    expect(statementLogVerdict('tgt', 'replication', { ...quiet, audit: 'read, DDL' }).problems).toEqual([expect.stringContaining('pgaudit.log is read, DDL, which logs every DDL statement')]);
    expect(statementLogVerdict('tgt', 'replication', { ...quiet, audit: 'read, write' }).problems).toEqual([]);
  });

  it('warns of what logs it only when slow or failing', () => {
    const v = statementLogVerdict('tgt', 'replication', { ...quiet, minDuration: 250, minErrorStatement: 'error' });
    expect(v.problems).toEqual([]);
    expect(v.warnings).toEqual([expect.stringContaining('log_min_duration_statement is 250 ms'), expect.stringContaining('log_min_error_statement is error')]);
    expect(statementLogVerdict('tgt', 'replication', { ...quiet, minErrorStatement: 'log' }).warnings).toEqual([]);
  });
});

describe('replicationRoleProblems: what a role that is not superuser needs to make a replication role', () => {
  const base = { version: 180000, superuser: false, replication: true, bypassRls: true, createRole: true, user: 'split_admin' };
  it('nothing for a superuser, or a role with every attribute the replication role gets', () => {
    expect(replicationRoleProblems('source', { ...base, superuser: true, replication: false }, ['public.payments'], 'the role')).toEqual([]);
    expect(replicationRoleProblems('source', base, ['public.payments'], 'the role')).toEqual([]);
    expect(replicationRoleProblems('source', { ...base, bypassRls: false }, [], 'the role')).toEqual([]);
  });

  it('names each missing attribute, BYPASSRLS only when a table has row-level security, and a superuser before PostgreSQL 16', () => {
    expect(replicationRoleProblems('tgt', { ...base, replication: false, bypassRls: false, createRole: false }, ['public.payments'], 'the role')).toEqual([
      'server tgt: the role is a LOGIN REPLICATION BYPASSRLS role: role split_admin needs REPLICATION to create its slot and give the role REPLICATION; ' +
        'BYPASSRLS to give it BYPASSRLS (public.payments has row-level security, which would hide rows from it); CREATEROLE to create it: as a superuser, ALTER ROLE "split_admin" CREATEROLE REPLICATION BYPASSRLS',
    ]);
    expect(replicationRoleProblems('source', { ...base, version: 150000 }, [], 'the role')).toEqual([
      'server source: the role is a LOGIN REPLICATION role, which before PostgreSQL 16 only a superuser may create: connect as one',
    ]);
  });
});
