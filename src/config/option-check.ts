/**
 * What a check of option values is, for the checks the option table's types cannot express (an app server's one
 * app and its sockets, the ASGI options, the serving and routing options): values in, problems out, each problem
 * pointing at the key to change. One type, so every check is called alike and a new one is one more function.
 */
import type {Diagnostic, DiagnosticLocation} from './diagnostic.js';
import type {OptionValues} from './values.js';

/**
 * Problems of `values`. `where` is the file (or the command line) they were read from; `origins` has each key's own
 * line where the reader knows it.
 */
export type OptionCheck = (values: OptionValues, where: DiagnosticLocation, origins?: ReadonlyMap<string, DiagnosticLocation>) => Diagnostic[];

/** Where a problem with `key` points: the line the key was read from when known, else `where`, naming the key. */
export function keyLocator(where: DiagnosticLocation, origins: ReadonlyMap<string, DiagnosticLocation> = new Map()): (key: string) => DiagnosticLocation {
  return (key) => origins.get(key) ?? {...where, key};
}
