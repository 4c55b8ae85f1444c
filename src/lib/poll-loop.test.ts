import { describe, expect, it, vi } from 'vitest';
import { startPollLoop } from './poll-loop.ts';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('startPollLoop', () => {
  it('runs again after the delay each round asks for, at once when it asks for 0', async () => {
    const delays = [0, 0, 200];
    const started: number[] = [];
    const loop = startPollLoop(async () => {
      started.push(performance.now());
      return delays[started.length - 1] ?? 60_000;
    });
    await vi.waitFor(() => expect(started).toHaveLength(4), { timeout: 5_000, interval: 5 });
    await loop.stop();
    const [first = 0, , third = 0, fourth = 0] = started;
    expect(third - first).toBeLessThan(150); // no pause after the rounds that asked for none
    expect(fourth - third).toBeGreaterThanOrEqual(190); // the third asked for 200 ms
  });

  it('stop() waits for the round in progress and starts no other; the round sees stopped()', async () => {
    let finished = 0;
    let sawStop = false;
    const loop = startPollLoop(async (stopped) => {
      await sleep(30);
      sawStop = stopped();
      finished++;
      return 0;
    });
    await sleep(5);
    await loop.stop();
    expect(finished).toBe(1);
    expect(sawStop).toBe(true);
    await sleep(20);
    expect(finished).toBe(1);
  });
});
