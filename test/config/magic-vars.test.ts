import {djb33xHex, expandEnvRefs, expandMagicVars, magicTable, substituteMagic, withVassalLetters} from '../../src/config/magic-vars.js';
import {HOST, NOW_MS} from './fixed-context.js';

const vars = magicTable({file: '/srv/vassals/shop.ini', givenName: 'shop.ini', section: 'uwsgi', vassalsDir: '/srv/vassals', nowMs: NOW_MS, host: HOST, inode: 42});
const expand = (value: string) => expandMagicVars(value, vars);

describe('expandMagicVars', () => {
  it('expands the per-file letters (%n %s %e %p %d %c %o %x %i)', () => {
    expect(expand('%n|%s|%e|%p|%d|%c|%o|%x|%i')).toBe('shop|shop.ini|ini|/srv/vassals/shop.ini|/srv/vassals/|vassals|shop.ini|uwsgi|42');
  });

  it('gives the upper-case per-file letters the same values (kaiser has no templates)', () => {
    expect(expand('%N %D %C')).toBe('shop /srv/vassals/ vassals');
  });

  it('expands the directory components %0..%9', () => {
    expect(expand('%0/%1/%2.')).toBe('srv/vassals/.');
  });

  it('expands host and time letters', () => {
    expect(expand('%h %k %u %U %g %G %b %v %V %t %T')).toBe(
      `testhost 4 1000 alice 100 users /usr/bin/kaiser /srv/vassals kaiser-test ${NOW_MS / 1000} ${NOW_MS * 1000}`,
    );
  });

  it('turns %% into % and %[ into ESC, blanks unknown letters and leaves %( alone', () => {
    expect(expand('100%% %[ %y %(port) end%')).toBe('100% \x1b  %(port) end%');
  });

  it('builds the typical socket and log paths', () => {
    expect(expand('%d%n.sock')).toBe('/srv/vassals/shop.sock');
  });

  it('computes %j as the djb33x hash in hex', () => {
    // djb33x("a") = (5381 * 33) ^ 97
    expect(djb33xHex('a')).toBe(((5381 * 33) ^ 97).toString(16));
    expect(expand('%j')).toBe(djb33xHex('/srv/vassals/shop.ini'));
  });
});

describe('expandEnvRefs', () => {
  it('replaces $(NAME) from the environment and leaves unset names literal', () => {
    expect(expandEnvRefs('$(HOME)/x $(NOPE)', {HOME: '/home/a'})).toBe('/home/a/x $(NOPE)');
  });
});

describe('substituteMagic', () => {
  it('substitutes a whole file, keeping %( for the placeholder pass and the line of each output line', () => {
    const out = substituteMagic('[uwsgi]\nsocket = %d%n.sock\nport = %(p)\n', vars);
    expect(out.text).toBe('[uwsgi]\nsocket = /srv/vassals/shop.sock\nport = %(p)\n');
    expect(out.lineOf).toEqual([1, 2, 3, 4]);
  });

  it('drops a % and the character after it, a newline too (the next line joins, as in uWSGI)', () => {
    const out = substituteMagic('a = 100%\nb = 1\nc = 2%', vars);
    expect(out.text).toBe('a = 100b = 1\nc = 2');
    expect(out.lineOf).toEqual([1, 3]);
  });

  it('keeps the vassal file upper-case letters for an included file', () => {
    const included = magicTable({file: '/srv/common/base.ini', givenName: 'base.ini', section: '', vassalsDir: '/srv/vassals', nowMs: NOW_MS, host: HOST});
    expect(substituteMagic('%n %N %d %D', withVassalLetters(included, vars)).text).toBe('base shop /srv/common/ /srv/vassals/');
  });
});
