import {parseCommandLine} from '../src/config/argv.js';
import {needsOptimizingCompiler} from '../src/v8-tiering.js';

describe('needsOptimizingCompiler', () => {
  const needs = (...args: string[]) => needsOptimizingCompiler(parseCommandLine(args, {cwd: '/tmp'}));

  it('caps the emperor at the baseline compiler, front router or not (the router runs in its own processes)', () => {
    expect(needs('--emperor', '/tmp')).toBe(false);
    expect(needs('--emperor', '/tmp', '--emperor-http', '127.0.0.1:8080')).toBe(false);
  });

  it('keeps the optimizing compiler for the app server and anything else', () => {
    expect(needs('--http-socket', '127.0.0.1:9090', '--wsgi-file', 'app.py')).toBe(true);
    expect(needs('ls')).toBe(true);
    expect(needs('--no-such-option')).toBe(true);
  });
});
