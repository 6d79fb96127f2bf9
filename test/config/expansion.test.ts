import {applyExpansionPass, expansionBudget, resolvePlaceholder, type ExpansionSlot} from '../../src/config/expansion.js';
import {CONFIG_LIMITS} from '../../src/config/config-limits.js';

/** Runs the `%` pass over `pairs` with uWSGI's lookup (first value of a name, as it is at that moment). */
function percentPass(pairs: [string, string][]): {values: string[]; failure: string | undefined} {
  const slots: ExpansionSlot[] = pairs.map(([key, value]) => ({key, value}));
  const first = new Map<string, ExpansionSlot>();
  for (const slot of slots) if (!first.has(slot.key)) first.set(slot.key, slot);
  const failed = applyExpansionPass(slots, '%', (name) => resolvePlaceholder(name, (n) => first.get(n)?.value), expansionBudget());
  return {values: slots.map((s) => s.value), failure: failed?.reason};
}

describe('applyExpansionPass (uWSGI 2.0 uwsgi_apply_config_pass)', () => {
  it('sees earlier values already expanded and later ones raw', () => {
    expect(percentPass([['c', 'x'], ['b', '%(c)'], ['a', '%(b)']]).values).toEqual(['x', 'x', 'x']);
  });

  it('does not expand a value inserted at the very start (the rescan begins at the second character)', () => {
    // uwsgi --show-config prints a = %(c) for this order.
    expect(percentPass([['a', '%(b)'], ['b', '%(c)'], ['c', 'x']]).values).toEqual(['%(c)', 'x', 'x']);
  });

  it('expands a value inserted after the first character', () => {
    expect(percentPass([['q', 'pre%(b)'], ['b', '%(c)'], ['c', 'x']]).values[0]).toBe('prex');
  });

  it('leaves unknown names and %() literal, and resolves the innermost reference first', () => {
    expect(percentPass([['z', 'v %(nope) %()'], ['n', '%(a%(c))'], ['c', 'x'], ['ax', '7']]).values.slice(0, 2)).toEqual(['v %(nope) %()', '%(ax)']);
  });

  it('inserts a value into itself once when the reference starts the value (uwsgi --show-config agrees)', () => {
    expect(percentPass([['z', '%(z) %(nope)']]).values[0]).toBe('%(z) %(nope) %(nope)');
  });

  it('keeps nested parentheses inside a name', () => {
    expect(percentPass([['a', 'v=%(f(x))'], ['f(x)', 'y']]).values[0]).toBe('v=y');
  });

  it('replaces $(NAME) with a resolver and leaves unresolved names', () => {
    const slots: ExpansionSlot[] = [{key: 'a', value: '$(HOME)/x $(NOPE) $x'}];
    applyExpansionPass(slots, '$', (name) => ({HOME: '/home/a'})[name], expansionBudget());
    expect(slots[0]?.value).toBe('/home/a/x $(NOPE) $x');
  });

  it('stops a placeholder that contains itself with a reason instead of looping (uWSGI runs out of memory)', () => {
    const {failure} = percentPass([['self', 'y%(self)']]);
    expect(failure).toMatch(/grows past 65536 bytes|more than 10000 substitutions/);
  });

  it('stops a doubling chain at the value size limit', () => {
    const pairs: [string, string][] = [['a0', 'xxxxxxxx']];
    for (let i = 1; i <= 20; i++) pairs.push([`a${i}`, `-%(a${i - 1})%(a${i - 1})`]);
    const {values, failure} = percentPass(pairs);
    expect(failure).toMatch(new RegExp(`grows past ${CONFIG_LIMITS.valueBytes} bytes`));
    expect(values.every((v) => v.length <= CONFIG_LIMITS.valueBytes)).toBe(true);
  });

  it('stops at the substitution budget', () => {
    const pairs: [string, string][] = [['a', 'v']];
    for (let i = 0; i < 120; i++) pairs.push([`k${i}`, '-%(a)'.repeat(100)]);
    expect(percentPass(pairs).failure).toMatch(/more than 10000 substitutions/);
  });

  it('passes a resolver error on', () => {
    const slots: ExpansionSlot[] = [{key: 'a', value: 'x@(/etc/missing)'}];
    const failed = applyExpansionPass(slots, '@', () => ({error: 'ENOENT'}), expansionBudget());
    expect(failed).toEqual({slot: slots[0], reason: 'ENOENT'});
  });
});

describe('resolvePlaceholder (uWSGI uwsgi_manage_placeholder)', () => {
  const values: Record<string, string> = {processes: '2', cores: '8', name: 'app'};
  const lookup = (name: string) => values[name];

  it('looks a plain name up', () => {
    expect(resolvePlaceholder('processes', lookup)).toBe('2');
    expect(resolvePlaceholder('nope', lookup)).toBeUndefined();
  });

  it('runs a left-to-right pipeline: concatenation, then integer math', () => {
    expect(resolvePlaceholder('processes cores + 2', lookup)).toBe('30');
    expect(resolvePlaceholder('processes * 3 ++', lookup)).toBe('7');
    expect(resolvePlaceholder('cores / 0', lookup)).toBe('0');
    expect(resolvePlaceholder('cores - 10', lookup)).toBe('-2');
    expect(resolvePlaceholder('name - 1', lookup)).toBe('-1');
    expect(resolvePlaceholder('name nope 7', lookup)).toBe('app7');
  });

  it('resolves to nothing when the pipeline has no value', () => {
    expect(resolvePlaceholder('+ -', lookup)).toBeUndefined();
  });
});
