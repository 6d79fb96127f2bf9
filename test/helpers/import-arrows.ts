/**
 * The import arrows of src/, as data: which file imports which (read with the TypeScript parser, so `import type`,
 * `export … from`, `import()` and `import('x').T` are all seen and told apart), the allowed arrows as written in the
 * "Import arrows" table of docs/architecture.md, and the pure check of one against the other. The table lives in the
 * doc so the map a newcomer reads and the rule the test enforces cannot drift apart; test/architecture.test.ts runs it.
 */
import {existsSync, readdirSync, readFileSync} from 'node:fs';
import {dirname, join, normalize, relative, sep} from 'node:path';
import ts from 'typescript';

/** One relative import: `from` and `to` are paths relative to src/ with `/` separators (`emperor/vassal.ts`). */
export interface ImportEdge {
  from: string;
  to: string;
  /** True when erased at run time: `import type`, `export type … from`, every named binding `type`, `import('x').T`. */
  typeOnly: boolean;
}

/** One row of the table: the modules it describes and what they may import. */
export interface ArrowRow {
  modules: string[];
  /** Modules (`config`, `errors.ts`) or single files (`emperor/vassal-states.ts`) that may be imported, values and types. */
  mayImport: string[];
  /** Modules or files that may be imported with `import type` only. */
  mayImportTypes: string[];
}

/** The allowed arrows: rows as written, group names (`leaves`) expanded, `*` meaning every module. */
export interface ArrowTable {
  rows: ArrowRow[];
}

/** An arrow that points the wrong way, with the file and the import that draw it. */
export interface WrongArrow {
  edge: ImportEdge;
  reason: string;
}

const SOURCE_EXTENSIONS = ['.ts', '.mts', '.js', '.mjs', '.cjs'];

/** The module a src/-relative path belongs to: its top folder (`emperor`), or the file itself at the top (`cli.ts`). */
export function moduleOf(path: string): string {
  const slash = path.indexOf('/');
  return slash === -1 ? path : path.slice(0, slash);
}

/** Every relative import in one source text. `file` is relative to src/ and only used to resolve the specifiers. */
export function importsOf(file: string, text: string): ImportEdge[] {
  const kind = file.endsWith('.ts') || file.endsWith('.mts') ? ts.ScriptKind.TS : ts.ScriptKind.JS;
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, false, kind);
  const edges: ImportEdge[] = [];
  const add = (specifier: ts.Expression | undefined, typeOnly: boolean): void => {
    if (specifier === undefined || !ts.isStringLiteralLike(specifier) || !specifier.text.startsWith('.')) return;
    edges.push({from: file, to: resolveSpecifier(file, specifier.text), typeOnly});
  };
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node)) {
      add(node.moduleSpecifier, isTypeOnlyImport(node.importClause));
    } else if (ts.isExportDeclaration(node)) {
      const named = node.exportClause;
      const allTypes = named !== undefined && ts.isNamedExports(named) && named.elements.length > 0 && named.elements.every((e) => e.isTypeOnly);
      add(node.moduleSpecifier, node.isTypeOnly || allTypes);
    } else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference)) {
      add(node.moduleReference.expression, node.isTypeOnly);
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
      add(node.arguments[0], false);
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument)) {
      add(node.argument.literal as ts.Expression, true);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return edges;
}

function isTypeOnlyImport(clause: ts.ImportClause | undefined): boolean {
  if (clause === undefined) return false; // `import './x.js'` runs the module
  if (clause.isTypeOnly) return true;
  if (clause.name !== undefined) return false;
  const bindings = clause.namedBindings;
  return bindings !== undefined && ts.isNamedImports(bindings) && bindings.elements.length > 0 && bindings.elements.every((e) => e.isTypeOnly);
}

/** `emperor/x.ts` + `../config/y.js` → `config/y.ts`: a TypeScript file names the `.js` its import compiles to. */
function resolveSpecifier(from: string, specifier: string): string {
  const joined = normalize(join(dirname(from), specifier)).split(sep).join('/');
  return from.endsWith('.ts') && joined.endsWith('.js') ? `${joined.slice(0, -3)}.ts` : joined;
}

/** Every relative import of every source file under `srcDir` (Python and assets are not modules of this graph). */
export function readImportGraph(srcDir: string): ImportEdge[] {
  const edges: ImportEdge[] = [];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, {withFileTypes: true})) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (SOURCE_EXTENSIONS.some((ext) => entry.name.endsWith(ext)) && !entry.name.endsWith('.d.ts')) {
        edges.push(...importsOf(relative(srcDir, path).split(sep).join('/'), readFileSync(path, 'utf8')));
      }
    }
  };
  if (existsSync(srcDir)) walk(srcDir);
  return edges;
}

/** The modules present under `srcDir`: its folders and its top-level source files. */
export function modulesIn(srcDir: string): string[] {
  return readdirSync(srcDir, {withFileTypes: true})
    .filter((e) => e.isDirectory() || SOURCE_EXTENSIONS.some((ext) => e.name.endsWith(ext)))
    .map((e) => e.name)
    .sort();
}

/**
 * Reads the table under the heading `## Import arrows` of the architecture doc. Columns: module(s), what it owns,
 * may import, may import types from. Names are in backticks; a folder may be written with a trailing `/`. A module
 * cell that starts with `name:` defines a group (`leaves: \`errors.ts\`, \`util/\``) that other cells may name as
 * `` `leaves` ``; `` `*` `` means every module. Throws when the table is missing or malformed: the doc is the rule.
 */
export function parseArrowTable(markdown: string): ArrowTable {
  const section = /^## Import arrows\s*$([\s\S]*?)(?=^## |(?![\s\S]))/m.exec(markdown);
  if (!section) throw new Error('docs/architecture.md has no "## Import arrows" section');
  const lines = section[1]!.split('\n').filter((l) => l.startsWith('|'));
  if (lines.length < 3) throw new Error('the "## Import arrows" section has no table');
  const groups = new Map<string, string[]>();
  const raw = lines.slice(2).map((line) => {
    const cells = line.split(/(?<!\\)\|/).slice(1, -1).map((c) => c.trim()); // `\|` is a pipe inside a cell
    if (cells.length !== 4) throw new Error(`import arrows table: expected 4 cells, got ${cells.length} in: ${line}`);
    const [moduleCell, , mayCell, typesCell] = cells as [string, string, string, string];
    const modules = namesIn(moduleCell);
    if (modules.length === 0) throw new Error(`import arrows table: no module in backticks in: ${line}`);
    const group = /^\*{0,2}([a-z-]+)\*{0,2}:/.exec(moduleCell);
    if (group) groups.set(group[1]!, modules);
    return {modules, mayImport: namesIn(mayCell), mayImportTypes: namesIn(typesCell)};
  });
  const expand = (names: string[]): string[] => names.flatMap((n) => groups.get(n) ?? [n]);
  return {rows: raw.map((r) => ({modules: r.modules, mayImport: expand(r.mayImport), mayImportTypes: expand(r.mayImportTypes)}))};
}

function namesIn(cell: string): string[] {
  return [...cell.matchAll(/`([^`]+)`/g)].map((m) => m[1]!.replace(/\/$/, ''));
}

/** Names the table's cells use that are neither a module it describes, a file in one, nor `*` (typos, stale rows). */
export function unknownNames(table: ArrowTable): string[] {
  const described = new Set(table.rows.flatMap((r) => r.modules));
  const cited = table.rows.flatMap((r) => [...r.mayImport, ...r.mayImportTypes]);
  return [...new Set(cited.filter((n) => n !== '*' && !described.has(moduleOf(n))))];
}

/** Whether `to` (a src/-relative file) is named by `allowed` (a module, a single file, or `*`). */
function isNamed(to: string, allowed: readonly string[]): boolean {
  return allowed.some((a) => a === '*' || a === to || a === moduleOf(to));
}

/**
 * Rules STYLE.md states outright, checked whatever the table says: nothing imports cli.ts; the emperor and the
 * server (and its workers) meet only at the process boundary; vassal-states.ts carries no code of other files.
 */
function invariantBroken(edge: ImportEdge): string | undefined {
  const from = moduleOf(edge.from);
  const to = moduleOf(edge.to);
  if (to === 'cli.ts') return 'nothing imports cli.ts (it is the top: argv in, exit code out)';
  if (from === 'emperor' && (to === 'server' || to === 'workers')) return 'the emperor never imports server/ or workers/: they meet at the process boundary';
  if ((from === 'server' || from === 'workers') && to === 'emperor') return `${from}/ never imports the emperor: they meet at the process boundary`;
  if (edge.from === 'emperor/vassal-states.ts' && !edge.typeOnly) return 'vassal-states.ts imports no code: every consumer may import it';
  return undefined;
}

/** The table's row for a module, or undefined when the doc does not describe it. */
export function rowOf(table: ArrowTable, module: string): ArrowRow | undefined {
  return table.rows.find((r) => r.modules.includes(module));
}

/** Every edge that crosses modules against the table or the invariants. Pure: no files, no doc. */
export function findWrongArrows(edges: readonly ImportEdge[], table: ArrowTable): WrongArrow[] {
  const wrong: WrongArrow[] = [];
  for (const edge of edges) {
    const invariant = invariantBroken(edge);
    if (invariant !== undefined) {
      wrong.push({edge, reason: invariant});
      continue;
    }
    const from = moduleOf(edge.from);
    if (from === moduleOf(edge.to)) continue;
    const row = rowOf(table, from);
    if (row === undefined) {
      wrong.push({edge, reason: `${from} has no row in the import arrows table`});
      continue;
    }
    if (isNamed(edge.to, row.mayImport)) continue;
    if (edge.typeOnly && isNamed(edge.to, row.mayImportTypes)) continue;
    const types = row.mayImportTypes.length > 0 ? `; types only from ${row.mayImportTypes.join(', ')}` : '';
    const kind = edge.typeOnly ? 'types from ' : '';
    wrong.push({edge, reason: `${from} may not import ${kind}${moduleOf(edge.to)} (it may import ${row.mayImport.join(', ') || 'nothing'}${types})`});
  }
  return wrong;
}

/** One line per wrong arrow, naming the file, what it imports and why that is wrong. */
export function formatWrongArrows(wrong: readonly WrongArrow[]): string {
  return wrong.map(({edge, reason}) => `src/${edge.from} imports ${edge.typeOnly ? 'types from ' : ''}src/${edge.to}: ${reason}`).join('\n');
}
