import {parseIni, splitIniSelector} from '../../src/config/ini.js';

describe('parseIni', () => {
  it('reads the [uwsgi] section with 1-based line numbers, skipping comments and other sections', () => {
    const text = ['; comment', 'ignored = before any section', '[other]', 'a = 1', '[uwsgi]', '# comment', 'http = :9090', '', 'processes = 4'].join('\n');
    const parsed = parseIni('a.ini', text);
    expect(parsed).toEqual({ok: true, value: [{key: 'http', value: ':9090', line: 7}, {key: 'processes', value: '4', line: 9}]});
  });

  it('has no inline comments: everything after = is the value, trimmed', () => {
    const parsed = parseIni('a.ini', '[uwsgi]\n  exec  =  echo a ; b # c  \n');
    expect(parsed.ok && parsed.value).toEqual([{key: 'exec', value: 'echo a ; b # c', line: 2}]);
  });

  it('reads a key without = (or without a value) as true', () => {
    const parsed = parseIni('a.ini', '[uwsgi]\nmaster\nvacuum =\n');
    expect(parsed.ok && parsed.value).toEqual([{key: 'master', value: 'true', line: 2}, {key: 'vacuum', value: 'true', line: 3}]);
  });

  it('keeps a repeated key as one entry per line, in order', () => {
    const parsed = parseIni('a.ini', '[uwsgi]\nsocket = a.sock\nsocket = b.sock\n');
    expect(parsed.ok && parsed.value.map((e) => [e.value, e.line])).toEqual([['a.sock', 2], ['b.sock', 3]]);
  });

  it('splits on the first = only', () => {
    const parsed = parseIni('a.ini', '[uwsgi]\nenv = A=b=c\n');
    expect(parsed.ok && parsed.value[0]?.value).toBe('A=b=c');
  });

  it('concatenates sections of the same name, and reads CRLF files', () => {
    const parsed = parseIni('a.ini', '[uwsgi]\r\na = 1\r\n[x]\r\nb = 2\r\n[uwsgi]\r\nc = 3\r\n');
    expect(parsed.ok && parsed.value.map((e) => e.key)).toEqual(['a', 'c']);
  });

  it('reads another section when asked', () => {
    const parsed = parseIni('a.ini', '[uwsgi]\na = 1\n[staging]\nb = 2\n', 'staging');
    expect(parsed.ok && parsed.value).toEqual([{key: 'b', value: '2', line: 4}]);
  });

  it('reports a file without the section as KAISER_CONFIG_NO_SECTION', () => {
    const parsed = parseIni('a.ini', 'processes = 4\n');
    expect(parsed.ok).toBe(false);
    expect(!parsed.ok && parsed.error[0]).toMatchObject({file: 'a.ini', code: 'KAISER_CONFIG_NO_SECTION', severity: 'error'});
  });

  it('reports an unterminated section header with its line', () => {
    const parsed = parseIni('a.ini', '[uwsgi]\na = 1\n[broken\n');
    expect(!parsed.ok && parsed.error[0]).toMatchObject({line: 3, code: 'KAISER_CONFIG_PARSE'});
  });
});

describe('splitIniSelector', () => {
  it('splits file.ini:section', () => {
    expect(splitIniSelector('vassals/app.ini:staging')).toEqual({path: 'vassals/app.ini', section: 'staging'});
  });

  it('leaves a plain path alone', () => {
    expect(splitIniSelector('/a:b/app.ini')).toEqual({path: '/a:b/app.ini', section: undefined});
  });
});
