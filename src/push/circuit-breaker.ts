/**
 * A circuit breaker per Firebase project, kept in process memory: after FCM_CIRCUIT_FAILURES consecutive
 * transport failures or 5xx answers within FCM_CIRCUIT_WINDOW_MS the project's circuit opens, and its send
 * batches are rescheduled without calling FCM for FCM_CIRCUIT_COOLDOWN_MS; then one batch probes (half-open)
 * and its answer closes or re-opens the circuit. Each worker process has its own breakers (see
 * docs/reliability.md); `fcmState()` summarises them for health checks.
 */

export type CircuitState = 'closed' | 'open' | 'half_open';

/** What a readiness check reports: every active project answering, some failing, or all of them failing. */
export type FcmHealth = 'ok' | 'degraded' | 'down';

export interface CircuitSettings {
  /** Consecutive failures that open the circuit. */
  failures: number;
  /** The failures must fall within this window (from the first of the streak). */
  windowMs: number;
  /** How long an open circuit keeps FCM uncalled before a probe. */
  cooldownMs: number;
  /** A probe that never reports (its worker died) frees the half-open slot after this long. */
  probeLeaseMs?: number;
}

/** May this batch call FCM? A refused batch is retried at `retryAt` (epoch ms) without counting an attempt. */
export type CircuitGate = { allowed: true; probe: boolean } | { allowed: false; retryAt: number };

export interface CircuitTransition {
  project: string;
  from: CircuitState;
  to: CircuitState;
  /** Failures in the streak that opened it (0 on close). */
  failures: number;
}

export interface CircuitView {
  project: string;
  state: CircuitState;
  consecutive_failures: number;
  open_until: string | null;
}

interface Circuit {
  state: CircuitState;
  failures: number;
  streakStartedAt: number;
  openUntil: number;
  probeStartedAt: number | undefined;
  lastActivityAt: number;
}

/** While a probe is out, other batches of the project come back this much later. */
const PROBE_WAIT_MS = 1000;

export class CircuitBreaker {
  readonly #settings: Required<CircuitSettings>;
  readonly #now: () => number;
  readonly #onTransition: (transition: CircuitTransition) => void;
  readonly #circuits = new Map<string, Circuit>();

  constructor(
    settings: CircuitSettings,
    options: { now?: () => number; onTransition?: (transition: CircuitTransition) => void } = {},
  ) {
    this.#settings = { probeLeaseMs: 60_000, ...settings };
    this.#now = options.now ?? Date.now;
    this.#onTransition = options.onTransition ?? (() => {});
  }

  /** Asks to call FCM for a project. A half-open circuit lets exactly one batch (the probe) through. */
  acquire(project: string): CircuitGate {
    const circuit = this.#circuits.get(project);
    const now = this.#now();
    if (!circuit) return { allowed: true, probe: false };
    circuit.lastActivityAt = now;
    if (circuit.state === 'closed') return { allowed: true, probe: false };
    if (circuit.state === 'open') {
      if (now < circuit.openUntil) return { allowed: false, retryAt: circuit.openUntil };
      this.#move(project, circuit, 'half_open');
    }
    if (circuit.probeStartedAt === undefined || now - circuit.probeStartedAt > this.#settings.probeLeaseMs) {
      circuit.probeStartedAt = now;
      return { allowed: true, probe: true };
    }
    return { allowed: false, retryAt: now + PROBE_WAIT_MS };
  }

  /**
   * Records how FCM answered one batch: `failures` are transport errors and 5xx, `successes` every other
   * answer except 429 (FCM answering, even with a refusal, is FCM being up). A batch with any success resets
   * the streak: the breaker is for outages, not for a partial error rate, which retries handle.
   */
  record(project: string, result: { successes: number; failures: number }): void {
    const now = this.#now();
    let circuit = this.#circuits.get(project);
    if (!circuit) {
      circuit = {
        state: 'closed',
        failures: 0,
        streakStartedAt: now,
        openUntil: 0,
        probeStartedAt: undefined,
        lastActivityAt: now,
      };
      this.#circuits.set(project, circuit);
    }
    circuit.lastActivityAt = now;
    if (circuit.state === 'half_open') {
      circuit.probeStartedAt = undefined;
      if (result.failures > 0 && result.successes === 0) {
        circuit.failures += result.failures;
        this.#open(project, circuit, now);
      } else this.#close(project, circuit);
      return;
    }
    // Batches that were already in flight when the circuit opened change nothing.
    if (circuit.state === 'open') return;
    if (result.successes > 0) {
      circuit.failures = 0;
      return;
    }
    if (result.failures === 0) return;
    if (circuit.failures === 0 || now - circuit.streakStartedAt > this.#settings.windowMs) {
      circuit.failures = 0;
      circuit.streakStartedAt = now;
    }
    circuit.failures += result.failures;
    if (circuit.failures >= this.#settings.failures) this.#open(project, circuit, now);
  }

  /** The project's state now (an open circuit whose cool-down is over reads as half-open). */
  state(project: string): CircuitState {
    const circuit = this.#circuits.get(project);
    if (!circuit) return 'closed';
    if (circuit.state === 'open' && this.#now() >= circuit.openUntil) return 'half_open';
    return circuit.state;
  }

  /**
   * For readiness: `down` when every project active recently has its circuit open or half-open, `degraded`
   * when some do or a failure streak is building, `ok` otherwise (including when nothing was sent yet).
   */
  fcmState(): FcmHealth {
    const active = this.#active();
    if (active.length === 0) return 'ok';
    const failing = active.filter((c) => c.state !== 'closed').length;
    if (failing === active.length) return 'down';
    if (failing > 0 || active.some((c) => c.failures > 0)) return 'degraded';
    return 'ok';
  }

  /** Every recently active circuit, for health details and logs. */
  circuits(): CircuitView[] {
    const now = this.#now();
    return [...this.#circuits.entries()]
      .filter(([, c]) => this.#isActive(c, now))
      .map(([project, c]) => ({
        project,
        state: c.state === 'open' && now >= c.openUntil ? 'half_open' : c.state,
        consecutive_failures: c.failures,
        open_until: c.state === 'open' ? new Date(c.openUntil).toISOString() : null,
      }));
  }

  #active(): Circuit[] {
    const now = this.#now();
    return [...this.#circuits.values()].filter((c) => this.#isActive(c, now));
  }

  /** A project that has not sent for a while no longer says anything about FCM's health. */
  #isActive(circuit: Circuit, now: number): boolean {
    const horizon = 10 * Math.max(this.#settings.windowMs, this.#settings.cooldownMs);
    return now - circuit.lastActivityAt <= horizon;
  }

  #open(project: string, circuit: Circuit, now: number): void {
    const failures = circuit.failures;
    circuit.openUntil = now + this.#settings.cooldownMs;
    circuit.probeStartedAt = undefined;
    this.#move(project, circuit, 'open', failures);
  }

  #close(project: string, circuit: Circuit): void {
    circuit.failures = 0;
    this.#move(project, circuit, 'closed');
  }

  #move(project: string, circuit: Circuit, to: CircuitState, failures = 0): void {
    const from = circuit.state;
    circuit.state = to;
    if (from !== to) this.#onTransition({ project, from, to, failures });
  }
}
