/**
 * The one source of "now" for decisions that depend on time (expiry, cancellation, timed releases). Production
 * reads the system clock; tests hand in a clock they move forward, so a rule that waits hours is tested in
 * milliseconds. SQL that decides by time takes this clock's instant as a parameter instead of calling now().
 */
export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };
