import {warningCell} from '../../src/control/format.js';

describe('warningCell (the WARNINGS column of kaiser ls)', () => {
  it('shows the first config warning without file and code, and how many more there are', () => {
    expect(warningCell(undefined)).toBe('-');
    expect(warningCell([])).toBe('-');
    expect(warningCell(['v/a.ini:2 [uwsgi] project: warning KAISER_CONFIG_UNKNOWN_KEY unknown option "project"'])).toBe('project: unknown option "project"');
    expect(warningCell(['v/a.ini:2 [uwsgi] cheaper: warning KAISER_CONFIG_NOT_APPLIED uWSGI option "cheaper" is accepted', 'x'])).toBe('cheaper: uWSGI option "cheaper" is accepted (+1)');
  });
});
