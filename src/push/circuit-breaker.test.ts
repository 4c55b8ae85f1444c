import { describe, expect, it } from 'vitest';
import { CircuitBreaker, type CircuitTransition } from './circuit-breaker.ts';

function breaker(settings = { failures: 3, windowMs: 10_000, cooldownMs: 5_000, probeLeaseMs: 20_000 }) {
  let now = 1_000_000;
  const transitions: CircuitTransition[] = [];
  const b = new CircuitBreaker(settings, { now: () => now, onTransition: (t) => transitions.push(t) });
  return { b, transitions, advance: (ms: number) => (now += ms), now: () => now };
}

describe('CircuitBreaker', () => {
  it('opens after N consecutive failures, refuses during the cool-down, then lets one probe through', () => {
    const { b, transitions, advance, now } = breaker();
    expect(b.acquire('p')).toEqual({ allowed: true, probe: false });
    b.record('p', { successes: 0, failures: 2 });
    expect(b.state('p')).toBe('closed');
    expect(b.fcmState()).toBe('degraded');
    b.record('p', { successes: 0, failures: 1 });
    expect(b.state('p')).toBe('open');
    expect(transitions).toEqual([{ project: 'p', from: 'closed', to: 'open', failures: 3 }]);
    expect(b.acquire('p')).toEqual({ allowed: false, retryAt: now() + 5_000 });
    expect(b.fcmState()).toBe('down');

    advance(5_000);
    expect(b.state('p')).toBe('half_open');
    expect(b.acquire('p')).toEqual({ allowed: true, probe: true });
    const second = b.acquire('p');
    expect(second.allowed).toBe(false);
    b.record('p', { successes: 1, failures: 0 });
    expect(b.state('p')).toBe('closed');
    expect(b.acquire('p')).toEqual({ allowed: true, probe: false });
    expect(b.fcmState()).toBe('ok');
    expect(transitions.map((t) => t.to)).toEqual(['open', 'half_open', 'closed']);
  });

  it('a failed probe re-opens for another cool-down', () => {
    const { b, advance, now } = breaker();
    b.record('p', { successes: 0, failures: 5 });
    advance(5_000);
    expect(b.acquire('p')).toMatchObject({ allowed: true, probe: true });
    b.record('p', { successes: 0, failures: 1 });
    expect(b.state('p')).toBe('open');
    expect(b.acquire('p')).toEqual({ allowed: false, retryAt: now() + 5_000 });
  });

  it('a success resets the streak, and a streak older than the window starts over', () => {
    const { b, advance } = breaker();
    b.record('p', { successes: 0, failures: 2 });
    b.record('p', { successes: 1, failures: 5 });
    b.record('p', { successes: 0, failures: 2 });
    expect(b.state('p')).toBe('closed');
    advance(11_000);
    b.record('p', { successes: 0, failures: 2 });
    expect(b.state('p')).toBe('closed');
    b.record('p', { successes: 0, failures: 1 });
    expect(b.state('p')).toBe('open');
  });

  it('429s (neither success nor failure) leave the streak alone; a lost probe frees its slot after the lease', () => {
    const { b, advance } = breaker();
    b.record('p', { successes: 0, failures: 2 });
    b.record('p', { successes: 0, failures: 0 });
    b.record('p', { successes: 0, failures: 1 });
    expect(b.state('p')).toBe('open');
    advance(5_000);
    expect(b.acquire('p')).toMatchObject({ allowed: true, probe: true });
    expect(b.acquire('p').allowed).toBe(false);
    advance(20_001);
    expect(b.acquire('p')).toMatchObject({ allowed: true, probe: true });
  });

  it('fcmState: down only when every active project is failing; idle projects stop counting', () => {
    const { b, advance } = breaker();
    b.record('a', { successes: 0, failures: 3 });
    b.record('b', { successes: 1, failures: 0 });
    expect(b.fcmState()).toBe('degraded');
    b.record('b', { successes: 0, failures: 1 });
    expect(b.fcmState()).toBe('degraded');
    b.record('b', { successes: 0, failures: 2 });
    expect(b.fcmState()).toBe('down');
    expect(b.circuits().map((c) => c.state)).toEqual(['open', 'open']);
    advance(1_000_000);
    expect(b.fcmState()).toBe('ok');
    expect(b.circuits()).toEqual([]);
  });
});
