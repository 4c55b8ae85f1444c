/**
 * Group commit: items added while a write is in flight, or in the same turn of the event loop, are written
 * together by the next call of `write` (at most `maxBatch` at a time, one write in flight). Each `add` resolves
 * when the write holding its item has finished, so a caller still waits for its own item to be stored. When a
 * write of several items fails, each is written again on its own: one bad item fails alone, and its caller gets
 * the error.
 */
export function createBatcher<T>(
  write: (items: T[]) => Promise<void>,
  maxBatch = 500,
): (item: T) => Promise<void> {
  interface Waiting {
    item: T;
    resolve: () => void;
    reject: (error: unknown) => void;
  }
  let queue: Waiting[] = [];
  let running = false;

  const settle = async (batch: Waiting[]): Promise<void> => {
    try {
      await write(batch.map((waiting) => waiting.item));
      for (const waiting of batch) waiting.resolve();
    } catch (error) {
      if (batch.length === 1) {
        batch[0]!.reject(error);
        return;
      }
      for (const waiting of batch) await settle([waiting]);
    }
  };

  const pump = async (): Promise<void> => {
    while (queue.length > 0) {
      const batch = queue.slice(0, maxBatch);
      queue = queue.slice(batch.length);
      await settle(batch);
    }
    running = false;
  };

  return (item) =>
    new Promise<void>((resolve, reject) => {
      queue.push({ item, resolve, reject });
      if (running) return;
      running = true;
      setImmediate(() => void pump());
    });
}
