/** A winston logger whose JSON lines land in an array, for tests that check what was logged. */
import {Writable} from 'node:stream';
import winston from 'winston';

export function captureLogger(): {log: winston.Logger; lines: Record<string, unknown>[]} {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line.trim() !== '') lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  const log = winston.createLogger({level: 'debug', format: winston.format.json(), transports: [new winston.transports.Stream({stream: sink})]});
  return {log, lines};
}
