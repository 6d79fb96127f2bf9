import {parseCommandLine} from '../src/config/argv.js';
import {needsOptimizingCompiler} from '../src/v8-tiering.js';

describe('needsOptimizingCompiler', () => {
  const needs = (...args: string[]) => needsOptimizingCompiler(parseCommandLine(args, {cwd: '/tmp'}));

  it('caps an emperor without the front router at the baseline compiler', () => {
    expect(needs('--emperor', '/tmp')).toBe(false);
  });

  it('keeps the optimizing compiler for the front router, the app server and anything else', () => {
    expect(needs('--emperor', '/tmp', '--emperor-http', '127.0.0.1:8080')).toBe(true);
    expect(needs('--http-socket', '127.0.0.1:9090', '--wsgi-file', 'app.py')).toBe(true);
    expect(needs('ls')).toBe(true);
    expect(needs('--no-such-option')).toBe(true);
  });
});
