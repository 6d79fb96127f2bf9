/**
 * The logger's fast path for vassal lines (src/log/logger.ts): the same text winston would write, the timestamp in
 * winston's format, every line of a turn in one write in call order, and levels respected.
 */
import {afterEach, describe, expect, jest, test} from '@jest/globals';
import winston from 'winston';
import {createLogger, humanStamp, logVassalLine} from '../../src/log/logger.js';

const turn = () => new Promise((resolve) => setImmediate(resolve));

function captureStderr(): string[] {
  const writes: string[] = [];
  jest.spyOn(process.stderr, 'write').mockImplementation((chunk: unknown) => {
    const text = String(chunk);
    if (!/^\((node:\d+|Use `node)/.test(text)) writes.push(text); // Node's own warnings, not ours
    return true;
  });
  return writes;
}

afterEach(() => {
  jest.restoreAllMocks();
});

describe('logger', () => {
  test('humanStamp writes what winston’s timestamp format writes', () => {
    const format = winston.format.timestamp({format: 'ddd MMM D HH:mm:ss YYYY'});
    for (const ms of [0, 1_765_000_000_000, 1_767_225_599_000, Date.now()]) {
      jest.useFakeTimers({now: ms});
      try {
        const info = format.transform({level: 'info', message: ''}, format.options) as unknown as {timestamp: string};
        expect(humanStamp(new Date(ms))).toBe(info.timestamp);
      } finally {
        jest.useRealTimers();
      }
    }
  });

  test('vassal lines and other entries of one turn go out in one write, in call order', async () => {
    const writes = captureStderr();
    const log = createLogger({format: 'human', noTimestamp: true}).child({component: 'emperor'});
    log.info('vassal spawned', {uwsgi: '[emperor] vassal a.ini has been spawned'});
    logVassalLine(log, 'a.ini', 'GET / => generated 2 bytes');
    log.warn('something', {vassal: 'b.ini'});
    logVassalLine(log, 'b.ini', 'second line');
    expect(writes).toEqual([]);
    await turn();
    expect(writes).toEqual(['[emperor] vassal a.ini has been spawned\n[a.ini] GET / => generated 2 bytes\nwarn: [b.ini] something\n[b.ini] second line\n']);
  });

  test('a vassal line carries the timestamp other entries carry', async () => {
    const writes = captureStderr();
    const log = createLogger({format: 'human', noTimestamp: false});
    logVassalLine(log, 'a.ini', 'hello');
    await turn();
    expect(writes.join('')).toMatch(/^[A-Z][a-z]{2} [A-Z][a-z]{2} \d{1,2} \d\d:\d\d:\d\d \d{4} - \[a\.ini\] hello\n$/);
  });

  test('vassal lines are not written below the info level, and the json format logs them as entries', async () => {
    const writes = captureStderr();
    logVassalLine(createLogger({format: 'human', level: 'warn'}), 'a.ini', 'quiet');
    logVassalLine(createLogger({format: 'json'}), 'a.ini', 'as json');
    await turn();
    expect(writes).toHaveLength(1);
    expect(JSON.parse(writes[0]!)).toMatchObject({level: 'info', message: 'as json', vassal: 'a.ini', line: 'as json'});
  });
});
