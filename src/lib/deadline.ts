/** Waiting on something that should finish but might not (a pool whose server vanished mid-query). */

/**
 * Resolves true when `work` settles within `ms`, false when the time ran out first (work goes on, unobserved
 * past that point: its rejection is swallowed so that it cannot become an unhandled one).
 */
export async function settledWithin(work: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  const settled = work.then(
    () => true as const,
    () => true as const,
  );
  try {
    return await Promise.race([settled, expired]);
  } finally {
    clearTimeout(timer);
  }
}
