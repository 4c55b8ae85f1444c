import { describe, expect, it } from 'vitest';
import { createBatcher } from './batcher.ts';

describe('createBatcher', () => {
  it('writes the items added in one turn together, and those added during a write in the next one', async () => {
    const writes: number[][] = [];
    let release: (() => void) | undefined;
    const add = createBatcher<number>(async (items) => {
      writes.push(items);
      if (writes.length === 1) await new Promise<void>((resolve) => (release = resolve));
    });
    const first = [add(1), add(2), add(3)];
    await new Promise((resolve) => setImmediate(resolve));
    expect(writes).toEqual([[1, 2, 3]]);
    const second = [add(4), add(5)];
    release!();
    await Promise.all([...first, ...second]);
    expect(writes).toEqual([
      [1, 2, 3],
      [4, 5],
    ]);
  });

  it('never writes more than maxBatch at a time', async () => {
    const writes: number[][] = [];
    const add = createBatcher<number>(async (items) => {
      writes.push(items);
    }, 2);
    await Promise.all([1, 2, 3, 4, 5].map(add));
    expect(writes).toEqual([[1, 2], [3, 4], [5]]);
  });

  it('retries a failed batch item by item: only the bad item fails, with its error', async () => {
    const written: number[] = [];
    const add = createBatcher<number>(async (items) => {
      if (items.includes(13)) throw new Error('unlucky');
      written.push(...items);
    });
    const results = await Promise.allSettled([add(12), add(13), add(14)]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect((results[1] as PromiseRejectedResult).reason).toEqual(new Error('unlucky'));
    expect(written).toEqual([12, 14]);
  });
});
