/**
 * The bounded read every reader of an operator's or a tenant's file shares (src/system/bounded-read.ts): grows past
 * the size fstat gave (a file that grew, a /proc file of size 0), stops at limit + 1 bytes and says the file is too
 * large, and stops at EOF.
 */
import {describe, expect, it} from '@jest/globals';
import {BoundedRead} from '../../src/system/bounded-read.js';

/** Reads `content` through `into` in reads of at most `chunk` bytes, as readSync would. */
function readAll(into: BoundedRead, content: Buffer, chunk = 3): number {
  let reads = 0;
  for (let room = into.room(); room !== undefined; room = into.room()) {
    reads += 1;
    const n = content.copy(room, 0, into.length, Math.min(content.length, into.length + Math.min(chunk, room.length)));
    if (!into.took(n)) break;
  }
  return reads;
}

describe('BoundedRead', () => {
  it('reads a file whole when it is larger than fstat said (grew, or /proc with size 0)', () => {
    const content = Buffer.from('x'.repeat(100));
    const into = new BoundedRead(1000, 1);
    readAll(into, content, 7);
    expect(into.tooLarge).toBe(false);
    expect(into.bytes.equals(content)).toBe(true);
  });

  it('stops one byte past the limit and reports the file too large', () => {
    const into = new BoundedRead(10, 4);
    readAll(into, Buffer.from('y'.repeat(50)));
    expect(into.length).toBe(11);
    expect(into.tooLarge).toBe(true);
  });

  it('a file of exactly the limit is not too large', () => {
    const into = new BoundedRead(10, 11);
    readAll(into, Buffer.from('z'.repeat(10)), 100);
    expect(into.tooLarge).toBe(false);
    expect(into.bytes.toString()).toBe('z'.repeat(10));
  });

  it('an empty file is read as empty', () => {
    const into = new BoundedRead(10, 1);
    expect(readAll(into, Buffer.alloc(0))).toBe(1);
    expect(into.bytes.length).toBe(0);
  });
});
