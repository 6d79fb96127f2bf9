import {EvictQueue, type EvictLinks} from '../../src/router/evict-queue.js';

class Item implements EvictLinks<Item> {
  evictPrev: Item | undefined = undefined;
  evictNext: Item | undefined = undefined;
  evictQueued = false;
  constructor(readonly name: string) {}
}

function drain(queue: EvictQueue<Item>): string[] {
  const out: string[] = [];
  for (let item = queue.shiftOldest(); item !== undefined; item = queue.shiftOldest()) out.push(item.name);
  return out;
}

describe('EvictQueue', () => {
  it('gives items back oldest first; pushing a queued item again makes it the newest', () => {
    const queue = new EvictQueue<Item>();
    const [a, b, c] = [new Item('a'), new Item('b'), new Item('c')];
    queue.pushNewest(a);
    queue.pushNewest(b);
    queue.pushNewest(c);
    queue.pushNewest(a);
    expect(queue.size).toBe(3);
    expect(drain(queue)).toEqual(['b', 'c', 'a']);
    expect(queue.size).toBe(0);
    expect(queue.shiftOldest()).toBeUndefined();
  });

  it('removes from the middle and both ends, and ignores items not queued', () => {
    const queue = new EvictQueue<Item>();
    const items = ['a', 'b', 'c', 'd', 'e'].map((n) => new Item(n));
    for (const item of items) queue.pushNewest(item);
    const [a, , c, , e] = items as [Item, Item, Item, Item, Item];
    queue.remove(c);
    queue.remove(a);
    queue.remove(e);
    queue.remove(e);
    queue.remove(new Item('never queued'));
    expect(queue.size).toBe(2);
    expect(drain(queue)).toEqual(['b', 'd']);
    // A removed item can come back, at the newest end.
    queue.pushNewest(c);
    queue.pushNewest(a);
    expect(drain(queue)).toEqual(['c', 'a']);
  });
});
