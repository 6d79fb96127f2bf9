/**
 * The suites every language plugin's test file has, written once (rig.ts has the primitives they use):
 *
 * - `describeAnswersAsUwsgi`: the fixture app under kaiser and, where Debian's plugin is installed, under real uWSGI
 *   with the same options; each case is one raw request whose answers must match (status, app headers, body).
 *   More tests of the same pair of servers go in `more`.
 * - `describeLoadFailures`: an app that cannot load, and a missing runtime, each make kaiser exit 22 naming why.
 */
import {afterAll, afterEach, beforeAll, describe, expect, it} from '@jest/globals';
import {cleanupProcesses, startKaiser} from '../../helpers/processes.js';
import {comparable, exchange, hasUwsgiPlugin, request, startKaiserApp, startUwsgiApp, type Target} from './rig.js';

/** `describe`, or `describe.skip` when the runtime is missing. */
export type Describe = typeof describe | typeof describe.skip;

/** The two servers of a comparison suite, started in its `beforeAll`. */
export interface Pair {
  readonly kaiser: Target;
  /** Undefined where uWSGI or its plugin is not installed: the cases then only check that kaiser answers. */
  readonly uwsgi: Target | undefined;
}

export interface ComparisonSuite {
  /** The server options both get (`--plugin X --http-socket-modifier1 N --X app …`). */
  args: string[];
  /** Their working directory (the fixtures). */
  cwd: string;
  /** The uWSGI plugin's name (`psgi`, `rack_ruby31` …), as hasUwsgiPlugin takes it. */
  uwsgiPlugin: string;
  /** Test name → raw request. */
  cases: ReadonlyArray<readonly [string, string]>;
  run?: Describe;
  /** More tests of the same two servers. */
  more?: (pair: () => Pair) => void;
}

export function describeAnswersAsUwsgi(title: string, suite: ComparisonSuite): void {
  (suite.run ?? describe)(title, () => {
    let pair: Pair | undefined;
    beforeAll(async () => {
      const kaiser = (await startKaiserApp(suite.args, suite.cwd)).target;
      pair = {kaiser, uwsgi: hasUwsgiPlugin(suite.uwsgiPlugin) ? (await startUwsgiApp(suite.args, suite.cwd)).target : undefined};
    });
    afterAll(cleanupProcesses);
    const started = (): Pair => {
      if (pair === undefined) throw new Error('the servers did not start (see beforeAll)');
      return pair;
    };

    for (const [name, raw] of suite.cases) {
      it(name, async () => {
        const {kaiser, uwsgi} = started();
        const got = comparable(await exchange(kaiser, raw));
        expect(got.status).toBeGreaterThanOrEqual(200);
        if (uwsgi !== undefined) expect(got).toEqual(comparable(await exchange(uwsgi, raw)));
      });
    }
    suite.more?.(started);
  });
}

export interface LoadFailures {
  cwd: string;
  /** The app option (`--psgi`): each file given to it must fail to load with its message. */
  appOption: string;
  failures: ReadonlyArray<readonly [file: string, why: RegExp]>;
  /** A loadable app, and the option naming the runtime binary (`--perl-bin`). */
  app: string;
  binOption: string;
  /** What kaiser says when that binary does not exist. */
  missingRuntime: RegExp;
  run?: Describe;
}

export function describeLoadFailures(l: LoadFailures): void {
  (l.run ?? describe)('load failures', () => {
    afterEach(cleanupProcesses);
    for (const [file, why] of l.failures) {
      it(`exits 22 naming the problem: ${file}`, async () => {
        const server = startKaiser(['--http-socket', '127.0.0.1:0', l.appOption, file], {cwd: l.cwd});
        expect((await server.exited).code).toBe(22);
        expect(server.output()).toMatch(why);
      });
    }

    it('names the Debian package when the runtime is missing', async () => {
      const server = startKaiser(['--http-socket', '127.0.0.1:0', l.appOption, l.app, l.binOption, '/nonexistent/runtime'], {cwd: l.cwd});
      expect((await server.exited).code).toBe(22);
      expect(server.output()).toMatch(l.missingRuntime);
    });
  });
}

/** The fixture app's `/die` raises: kaiser answers 500 (uWSGI closes the connection without a response). */
export function itAnswers500WhenTheAppRaises(pair: () => Pair): void {
  it('answers 500 when the app raises (uWSGI closes the connection without a response)', async () => {
    const answer = await exchange(pair().kaiser, request('GET', '/die'));
    expect([answer.status, answer.body.toString()]).toEqual([500, 'Internal Server Error']);
  });
}

/** The fixture app's `/echo` prints `body=…`: a chunked request body reaches it whole. */
export function itReadsChunkedBodies(pair: () => Pair): void {
  it('reads chunked request bodies', async () => {
    const answer = await exchange(pair().kaiser, 'POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n');
    expect(answer.body.toString()).toContain('body=abcde\n');
  });
}
