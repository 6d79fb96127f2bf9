import {readIniSection, splitIniSelector, type IniEntry} from '../../src/config/ini.js';

function parseIni(file: string, text: string, section?: string): {ok: true; value: IniEntry[]} | {ok: false; error: ReturnType<typeof readIniSection>['problems']} {
  const read = readIniSection(file, text, section);
  if (read.problems.length > 0) return {ok: false, error: read.problems};
  return {ok: true, value: read.entries};
}

describe('readIniSection', () => {
  it('reads the [uwsgi] section with 1-based line numbers, skipping comments and other sections', () => {
    const text = ['; comment', 'ignored = before any section', '[other]', 'a = 1', '[uwsgi]', '# comment', 'http = :9090', '', 'processes = 4'].join('\n');
    const parsed = parseIni('a.ini', text);
    expect(parsed).toEqual({ok: true, value: [{key: 'http', value: ':9090', line: 7}, {key: 'processes', value: '4', line: 9}]});
  });

  it('has no inline comments: everything after = is the value, trimmed', () => {
    const parsed = parseIni('a.ini', '[uwsgi]\n  exec  =  echo a ; b # c  \n');
    expect(parsed.ok && parsed.value).toEqual([{key: 'exec', value: 'echo a ; b # c', line: 2}]);
  });

  it('reads a key without = (or without a value) as the empty value, which a flag takes as true', () => {
    const parsed = parseIni('a.ini', '[uwsgi]\nmaster\nvacuum =\n');
    expect(parsed.ok && parsed.value).toEqual([{key: 'master', value: '', line: 2}, {key: 'vacuum', value: '', line: 3}]);
  });

  it('strips only spaces, tabs and carriage returns, as uWSGI does', () => {
    const parsed = parseIni('a.ini', '[uwsgi]\n\t key \t=\t v \f\r\n');
    expect(parsed.ok && parsed.value).toEqual([{key: 'key', value: 'v \f', line: 2}]);
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

  it('says when the file has no such section', () => {
    expect(readIniSection('a.ini', 'processes = 4\n')).toEqual({entries: [], found: false, problems: []});
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

  it('reads ":section" as a section of the file read last', () => {
    expect(splitIniSelector(':prod')).toEqual({path: '', section: 'prod'});
  });
});
