/** planDefinition, decision by decision: no files, no processes, no clock but the one passed in. */
import {describe, expect, it} from '@jest/globals';
import {planDefinition, type DefinitionContext, type DefinitionPlan, type VassalDefinition, type VassalRecord} from '../../src/emperor/definition.js';
import type {Vassal} from '../../src/emperor/vassal.js';
import {HOST, NOW_MS} from '../config/fixed-context.js';

const GOOD = 'exec = ["/bin/true"]\n';
const BROKEN = 'exec = ["/bin/true"\n';

function context(overrides: Partial<DefinitionContext> = {}): DefinitionContext {
  return {
    defaults: {files: [], hash: ''},
    spec: {env: {}, host: HOST, nowMs: NOW_MS, fileExists: (path) => path === '/usr/bin/python3'},
    now: NOW_MS,
    ...overrides,
  };
}

function definition(text: string, overrides: Partial<VassalDefinition> = {}): VassalDefinition {
  return {source: '/srv/vassals', path: '/srv/vassals/web.toml', dir: '/srv/vassals', text: Buffer.from(text), version: 1, changedAt: NOW_MS - 60_000, ...overrides};
}

/** The record the emperor keeps after acting on `plan` of `def`. */
function recordAfter(def: VassalDefinition, plan: DefinitionPlan): VassalRecord {
  if (plan.kind === 'unchanged') throw new Error('nothing to remember');
  return {
    vassal: {name: 'web.toml'} as Vassal,
    source: def.source,
    definition: def,
    digest: plan.digest,
    version: def.version,
    present: true,
    pending: undefined,
    applied: undefined,
    lastReported: undefined,
    owner: def.owner,
  };
}

describe('planDefinition', () => {
  it('applies a good definition of a new vassal with its parsed spec', () => {
    const plan = planDefinition(undefined, definition(GOOD), context());
    expect(plan.kind).toBe('apply');
    expect(plan.kind === 'apply' && plan.spec).toMatchObject({kind: 'command', name: 'web.toml', argv: ['/bin/true']});
  });

  it('leaves a vassal alone when text, version, defaults and owner are what it was defined with', () => {
    const def = definition(GOOD, {owner: {uid: 1000, gid: 100}});
    const record = recordAfter(def, planDefinition(undefined, def, context()));
    expect(planDefinition(record, definition(GOOD, {owner: {uid: 1000, gid: 100}}), context())).toEqual({kind: 'unchanged'});
  });

  it('applies again when only the version moved (touch), the defaults changed, or the file changed owner', () => {
    const def = definition(GOOD, {owner: {uid: 1000, gid: 100}});
    const record = recordAfter(def, planDefinition(undefined, def, context()));
    expect(planDefinition(record, {...def, version: 2}, context()).kind).toBe('apply');
    expect(planDefinition(record, def, context({defaults: {files: [], hash: 'other'}})).kind).toBe('apply');
    expect(planDefinition(record, {...def, owner: {uid: 1001, gid: 100}}, context()).kind).toBe('apply');
  });

  it('never calls a definition unchanged while a retry is pending for it, nor once it is no longer present', () => {
    const def = definition(GOOD);
    const record = recordAfter(def, planDefinition(undefined, def, context()));
    expect(planDefinition({...record, pending: {reason: 'rebind', cancel: () => undefined}}, def, context()).kind).toBe('apply');
    expect(planDefinition({...record, present: false}, def, context()).kind).toBe('apply');
  });

  it('looks again shortly at a definition that does not parse right after it changed, if it can be read again', () => {
    const fresh = definition(BROKEN, {changedAt: NOW_MS - 100, recheck: () => undefined});
    expect(planDefinition(undefined, fresh, context())).toMatchObject({kind: 'recheck', afterMs: 200});
  });

  it('calls a definition invalid once its grace is over, or when it cannot be read again, naming file and line', () => {
    const old = planDefinition(undefined, definition(BROKEN, {changedAt: NOW_MS - 2_000, recheck: () => undefined}), context());
    expect(old.kind).toBe('invalid');
    expect(old.kind === 'invalid' && old.error).toMatch(/^\/srv\/vassals\/web\.toml:\d+/);
    expect(planDefinition(undefined, definition(BROKEN, {changedAt: NOW_MS}), context()).kind).toBe('invalid');
  });

  it('passes on the reason a definition could not be read at all', () => {
    const error = '/srv/vassals/web.toml: error KAISER_CONFIG_UNREADABLE cannot read (EACCES)';
    expect(planDefinition(undefined, definition('', {error}), context())).toEqual({kind: 'invalid', digest: error, error});
  });
});
