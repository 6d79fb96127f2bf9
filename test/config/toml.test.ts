import {findTomlKeyLine, parseToml} from '../../src/config/toml.js';

describe('parseToml', () => {
  it('returns top-level keys with their lines and TOML types', () => {
    const parsed = parseToml('w.toml', '# c\nprocesses = 4\nexec = ["a", "b"]\n\n[env]\nA = "1"\n');
    expect(parsed).toEqual({
      ok: true,
      value: [
        {key: 'processes', value: 4, file: 'w.toml', line: 2},
        {key: 'exec', value: ['a', 'b'], file: 'w.toml', line: 3},
        {key: 'env', value: {A: '1'}, file: 'w.toml', line: 5},
      ],
    });
  });

  it('accepts a [uwsgi] table as the top level', () => {
    const parsed = parseToml('w.toml', 'logto = "x.log"\n[uwsgi]\nhttp = ":9090"\n"wsgi-file" = "app.py"\n');
    expect(parsed.ok && parsed.value).toEqual([
      {key: 'logto', value: 'x.log', file: 'w.toml', line: 1},
      {key: 'http', value: ':9090', file: 'w.toml', line: 3, section: 'uwsgi'},
      {key: 'wsgi-file', value: 'app.py', file: 'w.toml', line: 4, section: 'uwsgi'},
    ]);
  });

  it('reports a syntax error with the parser line', () => {
    const parsed = parseToml('w.toml', 'a = 1\nb = [\n  c = \n');
    expect(!parsed.ok && parsed.error[0]).toMatchObject({file: 'w.toml', line: 3, code: 'KAISER_CONFIG_PARSE', severity: 'error'});
  });

  it('reports a redefined key with its line', () => {
    const parsed = parseToml('w.toml', 'a = 1\na = 2\n');
    expect(!parsed.ok && parsed.error[0]).toMatchObject({line: 2, code: 'KAISER_CONFIG_PARSE'});
    expect(!parsed.ok && parsed.error[0]?.message).toMatch(/redefine/);
  });
});

describe('findTomlKeyLine', () => {
  it('finds dotted keys and does not confuse keys of other tables', () => {
    const text = '[env]\nexec = "no"\n[uwsgi]\nexec = "yes"\nenv.A = "1"\n';
    expect(findTomlKeyLine(text, 'exec', 'uwsgi')).toBe(4);
    expect(findTomlKeyLine(text, 'exec')).toBeUndefined();
    expect(findTomlKeyLine(text, 'env')).toBe(1);
  });
});
