/**
 * Issue 14, "one input kills the emperor": values that used to be accepted by the parser and throw later, in the
 * emperor's process, are refused at parse time with a diagnostic naming the file, the key and the reason.
 */
import {describe, expect, it} from '@jest/globals';
import {formatDiagnostic, loadVassalSpec} from '../../src/config/vassal-spec.js';
import {VASSAL_CTX} from './fixed-context.js';

function problemsOf(file: string, text: string): string[] {
  const result = loadVassalSpec(file, text, VASSAL_CTX);
  return result.ok ? [] : result.error.map(formatDiagnostic);
}

describe('issue 14: a NUL byte is refused at parse time', () => {
  it('in an exec argument (TOML): the key and the reason are named', () => {
    const problems = problemsOf('nul.toml', 'exec = ["sleep", "6\\u000012"]\n');
    expect(problems).toEqual([expect.stringMatching(/nul\.toml.*exec.*NUL byte/s)]);
  });

  it('in an exec command line (ini)', () => {
    expect(problemsOf('nul.ini', '[uwsgi]\nexec = sleep 6\u000012\n')).toEqual([expect.stringMatching(/nul\.ini.*exec.*NUL byte/s)]);
  });

  it('in an env value, a path and a socket address', () => {
    expect(problemsOf('env.toml', 'exec = ["sleep", "1"]\nenv = { A = "x\\u0000y" }\n')).toEqual([expect.stringMatching(/env.*NUL byte/s)]);
    expect(problemsOf('chdir.toml', 'exec = ["sleep", "1"]\ncwd = "/tmp\\u0000/x"\n')).toEqual([expect.stringMatching(/cwd.*NUL byte/s)]);
    expect(problemsOf('sock.toml', 'exec = ["sleep", "1"]\nsocket = "unix:/tmp/a\\u0000b"\n')).toEqual([expect.stringMatching(/socket.*NUL byte/s)]);
  });
});
