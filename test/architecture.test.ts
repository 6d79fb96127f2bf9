/**
 * The import arrows of src/ (docs/architecture.md, "Import arrows"): every cross-module import must be allowed by the
 * table there, and STYLE's fixed rules hold (nothing imports cli.ts; the emperor and the server meet only at the
 * process boundary). The first block checks the real tree; the second proves the check can fail, on synthetic graphs.
 */
import {readFileSync} from 'node:fs';
import {
  findWrongArrows,
  formatWrongArrows,
  importsOf,
  modulesIn,
  moduleOf,
  parseArrowTable,
  readImportGraph,
  rowOf,
  unknownNames,
  type ArrowTable,
  type ImportEdge,
} from './helpers/import-arrows.js';

const DOC = 'docs/architecture.md';

describe('the import arrows of src/', () => {
  const table = parseArrowTable(readFileSync(DOC, 'utf8'));
  const edges = readImportGraph('src');

  it('finds the imports it checks (a parser that saw nothing would pass everything)', () => {
    expect(edges.length).toBeGreaterThan(100);
    expect(edges).toContainEqual({from: 'cli.ts', to: 'emperor/emperor.ts', typeOnly: false});
  });

  it('has a row in docs/architecture.md for every module of src/', () => {
    const missing = modulesIn('src').filter((m) => rowOf(table, m) === undefined);
    expect(missing).toEqual([]);
  });

  it('names only modules the table describes', () => {
    expect(unknownNames(table)).toEqual([]);
  });

  it('points every import the way the table allows', () => {
    const wrong = findWrongArrows(edges, table);
    if (wrong.length > 0) {
      throw new Error(`${wrong.length} import(s) point the wrong way (allowed arrows: the table in ${DOC}, "Import arrows"):\n${formatWrongArrows(wrong)}`);
    }
  });
});

describe('findWrongArrows (on synthetic graphs)', () => {
  const table = parseArrowTable(`
## Import arrows
| Module | Owns | May import | Types only from |
|---|---|---|---|
| \`cli.ts\` | top | \`*\` | |
| \`emperor/\` | the loop | \`protocol\`, \`leaves\` | |
| \`server/\` | the master | \`protocol\`, \`leaves\` | |
| \`control/\` | a consumer \\| with a pipe | \`emperor/vassal-states.ts\`, \`leaves\` | \`emperor\` |
| \`protocol/\` | bytes | \`leaves\` | |
| leaves: \`result.ts\`, \`util/\` | small things | \`leaves\` | |

## Next section
| not | a | row | here |
`);
  const edge = (from: string, to: string, typeOnly = false): ImportEdge => ({from, to, typeOnly});
  const wrong = (edges: ImportEdge[], t: ArrowTable = table) => findWrongArrows(edges, t).map((w) => w.reason);

  it('reads the rows, expands groups and stops at the next section', () => {
    expect(table.rows).toHaveLength(6);
    expect(rowOf(table, 'emperor')?.mayImport).toEqual(['protocol', 'result.ts', 'util']);
    expect(rowOf(table, 'util')?.mayImport).toEqual(['result.ts', 'util']);
    expect(rowOf(table, 'control')?.mayImportTypes).toEqual(['emperor']);
  });

  it('accepts allowed arrows and imports inside a module', () => {
    expect(wrong([edge('emperor/a.ts', 'protocol/p.ts'), edge('emperor/a.ts', 'emperor/b.ts'), edge('cli.ts', 'server/s.ts')])).toEqual([]);
  });

  it('rejects an arrow the table does not allow, naming the file and the import', () => {
    const found = findWrongArrows([edge('protocol/p.ts', 'emperor/vassal.ts')], table);
    expect(formatWrongArrows(found)).toBe('src/protocol/p.ts imports src/emperor/vassal.ts: protocol may not import emperor (it may import result.ts, util)');
  });

  it('lets a consumer import types from the emperor, and code only from vassal-states.ts', () => {
    expect(wrong([edge('control/c.ts', 'emperor/vassal.ts', true), edge('control/c.ts', 'emperor/vassal-states.ts')])).toEqual([]);
    expect(wrong([edge('control/c.ts', 'emperor/vassal.ts')])).toEqual([
      'control may not import emperor (it may import emperor/vassal-states.ts, result.ts, util; types only from emperor)',
    ]);
  });

  it('holds STYLE rules even against a table that allows everything', () => {
    const everything = parseArrowTable(`## Import arrows\n| m | o | may | types |\n|-|-|-|-|\n| \`emperor\`, \`server\`, \`workers\`, \`control\`, \`cli.ts\` | all | \`*\` | |\n`);
    expect(wrong([edge('control/c.ts', 'cli.ts', true)], everything)).toEqual([expect.stringMatching(/nothing imports cli.ts/)]);
    expect(wrong([edge('emperor/e.ts', 'server/s.ts')], everything)).toEqual([expect.stringMatching(/never imports server/)]);
    expect(wrong([edge('emperor/e.ts', 'workers/node/w.ts', true)], everything)).toEqual([expect.stringMatching(/never imports server/)]);
    expect(wrong([edge('workers/node/w.ts', 'emperor/e.ts')], everything)).toEqual([expect.stringMatching(/workers\/ never imports the emperor/)]);
    expect(wrong([edge('emperor/vassal-states.ts', 'emperor/child.ts')], everything)).toEqual([expect.stringMatching(/imports no code/)]);
    expect(wrong([edge('emperor/vassal-states.ts', 'emperor/child.ts', true)], everything)).toEqual([]);
  });

  it('reports a module that has no row', () => {
    expect(wrong([edge('newthing/x.ts', 'util/u.ts')])).toEqual(['newthing has no row in the import arrows table']);
  });

  it('reports names in the table that no row describes', () => {
    const typo = parseArrowTable('## Import arrows\n| m | o | may | types |\n|-|-|-|-|\n| `emperor` | e | `protocl`, `emperor/x.ts` | `*` |\n');
    expect(unknownNames(typo)).toEqual(['protocl']);
  });

  it('refuses a doc without the table, or with a malformed row', () => {
    expect(() => parseArrowTable('# nothing here\n')).toThrow(/no "## Import arrows" section/);
    expect(() => parseArrowTable('## Import arrows\n| a | b |\n|-|-|\n| `x` | y |\n')).toThrow(/expected 4 cells/);
  });
});

describe('importsOf', () => {
  it('sees every kind of import and tells type-only ones apart', () => {
    const text = [
      "import {a} from '../config/a.js';",
      "import type {B} from '../config/b.js';",
      "import {type C, type D} from '../log/c.js';",
      "import {type E, f} from '../log/e.js';",
      "import './side-effect.js';",
      "import g from 'node:fs';",
      "export {h} from '../util/h.js';",
      "export type {I} from '../util/i.js';",
      "const j = await import('../metrics/j.js');",
      "let k: import('../router/k.js').K;",
    ].join('\n');
    expect(importsOf('emperor/x.ts', text).map((e) => [e.to, e.typeOnly])).toEqual([
      ['config/a.ts', false],
      ['config/b.ts', true],
      ['log/c.ts', true],
      ['log/e.ts', false],
      ['emperor/side-effect.ts', false],
      ['util/h.ts', false],
      ['util/i.ts', true],
      ['metrics/j.ts', false],
      ['router/k.ts', true],
    ]);
  });

  it('keeps .js targets of plain JavaScript files (the dashboard page)', () => {
    expect(importsOf('dashboard/public/app.js', "import {x} from './api.js';")).toEqual([{from: 'dashboard/public/app.js', to: 'dashboard/public/api.js', typeOnly: false}]);
    expect(moduleOf('dashboard/public/api.js')).toBe('dashboard');
  });
});
