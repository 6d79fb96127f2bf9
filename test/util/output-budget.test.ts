/**
 * The output budget of a vassal (src/util/output-budget.ts) and line splitting under it (src/util/split-lines.ts),
 * on a hand-moved clock: lines over the budget are dropped and counted, the count is said once per report period,
 * the byte budget pauses reading, and one chunk of many lines is handled over several turns of the loop.
 */
import {describe, expect, it} from '@jest/globals';
import {PassThrough} from 'node:stream';
import {BURST_LINES, LINES_PER_SECOND, OutputBudget, REPORT_EVERY_MS, TokenBucket, type BudgetClock} from '../../src/util/output-budget.js';
import {LINES_PER_TURN, splitLines} from '../../src/util/split-lines.js';

class HandClock implements BudgetClock {
  at = 0;
  readonly timers: {at: number; fn: () => void; live: boolean}[] = [];
  now(): number {
    return this.at;
  }
  setTimer(ms: number, fn: () => void): () => void {
    const timer = {at: this.at + ms, fn, live: true};
    this.timers.push(timer);
    return () => void (timer.live = false);
  }
  advance(ms: number): void {
    this.at += ms;
    for (const timer of this.timers.filter((t) => t.live && t.at <= this.at)) {
      timer.live = false;
      timer.fn();
    }
  }
}

const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('OutputBudget', () => {
  it('keeps a burst, then the sustained rate, and says how many lines it dropped', () => {
    const clock = new HandClock();
    const said: [number, number][] = [];
    const budget = new OutputBudget({clock, onDropped: (lines, seconds) => said.push([lines, seconds])});
    let kept = 0;
    for (let i = 0; i < BURST_LINES + 500; i++) if (budget.takeLine()) kept += 1;
    expect(kept).toBe(BURST_LINES);
    expect(budget.droppedLines).toBe(500);
    clock.advance(1000);
    for (let i = 0; i < LINES_PER_SECOND * 2; i++) if (budget.takeLine()) kept += 1;
    expect(kept).toBe(BURST_LINES + LINES_PER_SECOND);
    expect(said).toEqual([]);
    clock.advance(REPORT_EVERY_MS);
    expect(said).toEqual([[500 + LINES_PER_SECOND, 6]]);
    budget.close();
    expect(said).toHaveLength(1); // nothing new to say
  });

  it('bounds all vassals together through the shared bucket', () => {
    const clock = new HandClock();
    const shared = new TokenBucket(100, 100, clock);
    const budgets = [1, 2, 3].map(() => new OutputBudget({clock, shared, onDropped: () => undefined}));
    let kept = 0;
    for (const budget of budgets) for (let i = 0; i < 100; i++) if (budget.takeLine()) kept += 1;
    expect(kept).toBe(100);
  });

  it('asks the reader to pause once the byte budget is spent', () => {
    const clock = new HandClock();
    const budget = new OutputBudget({clock, onDropped: () => undefined, bytesPerSecond: 1000, burstBytes: 1000});
    expect(budget.takeBytes(1000)).toBe(0);
    expect(budget.takeBytes(500)).toBe(500);
  });
});

describe('splitLines with a budget', () => {
  it('drops the lines over the budget and hands at most LINES_PER_TURN lines per turn of the loop', async () => {
    const clock = new HandClock();
    const output = new OutputBudget({clock, onDropped: () => undefined, burstLines: LINES_PER_TURN * 3});
    const stream = new PassThrough();
    const lines: string[] = [];
    splitLines(stream, (line) => lines.push(line), {output, setTimer: (ms, fn) => clock.setTimer(ms, fn)});
    stream.emit('data', Buffer.from('y\n'.repeat(LINES_PER_TURN * 5))); // one chunk, handled at once
    expect(lines).toHaveLength(LINES_PER_TURN); // the rest waits for the next turns
    for (let i = 0; i < 10 && lines.length < LINES_PER_TURN * 3; i++) await turn();
    await turn();
    expect(lines).toHaveLength(LINES_PER_TURN * 3);
    expect(output.droppedLines).toBe(LINES_PER_TURN * 2);
  });

  it('drops the rest of a chunk after a refused line in one count, and keeps a line cut at its end for the next', async () => {
    const clock = new HandClock();
    const output = new OutputBudget({clock, onDropped: () => undefined, burstLines: 2, linesPerSecond: 1});
    const stream = new PassThrough();
    const lines: string[] = [];
    splitLines(stream, (line) => lines.push(line), {output, setTimer: (ms, fn) => clock.setTimer(ms, fn)});
    stream.emit('data', Buffer.from('a\nb\n' + 'y\n'.repeat(10_000) + 'cut'));
    expect(lines).toEqual(['a', 'b']);
    expect(output.droppedLines).toBe(10_000);
    clock.advance(1000); // one more token
    stream.emit('data', Buffer.from(' line\n'));
    expect(lines).toEqual(['a', 'b', 'cut line']);
  });

  it('escapes control characters and keeps a UTF-8 character cut between chunks whole', async () => {
    const stream = new PassThrough();
    const lines: string[] = [];
    splitLines(stream, (line) => lines.push(line));
    const text = Buffer.from('\u001b[31mred\u001b[0m é\r\n');
    stream.write(text.subarray(0, 14));
    stream.write(text.subarray(14));
    stream.end();
    await turn();
    expect(lines).toEqual(['\\x1b[31mred\\x1b[0m é']);
  });
});
