/**
 * Prometheus metrics of one process, in a registry of its own (several apps can live in one process, as in the
 * tests): the counters the send path, the webhooks and the HTTP layer move, and queue gauges read on scrape.
 */
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { FcmObserver } from '../push/fcm.provider.ts';
import type { QueueDepth } from '../queue/contract.ts';

export interface MetricsOptions {
  /** Read at most once per scrape; when it fails the queue gauges are left out of that scrape. */
  queueDepths?: () => Promise<QueueDepth[]>;
  /** process_* and nodejs_* metrics (CPU, memory, event-loop lag, GC). Default true. */
  processMetrics?: boolean;
}

/** What a webhook attempt came to (the webhook engine reports each attempt once). */
export type WebhookOutcome = 'delivered' | 'failed' | 'retrying' | 'dead' | 'skipped';

const HTTP_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);
const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/** Scrapes closer together than this share one read of the queue tables. */
const QUEUE_READ_REUSE_MS = 1_000;

export class Metrics {
  readonly registry = new Registry();
  readonly #accepted: Counter<'kind' | 'status'>;
  readonly #deliveries: Counter<'status' | 'platform'>;
  readonly #retries: Counter<'platform'>;
  readonly #fcmDuration: Histogram;
  readonly #fcmErrors: Counter<'code'>;
  readonly #webhooks: Counter<'outcome'>;
  readonly #httpRequests: Counter<'method' | 'route' | 'status_class'>;
  readonly #httpDuration: Histogram<'method' | 'route' | 'status_class'>;
  readonly #queueDepths: (() => Promise<QueueDepth[]>) | undefined;
  #queueRead: { at: number; depths: Promise<QueueDepth[] | undefined> } | undefined;

  /** Handed to the FCM provider: every messages:send exchange and every message failed before one. */
  readonly fcm: FcmObserver;

  constructor(options: MetricsOptions = {}) {
    const registers = [this.registry];
    this.#accepted = new Counter({
      name: 'fcms_notifications_accepted_total',
      help: 'Notifications accepted (API and scheduler), by target kind and the status they were accepted in',
      labelNames: ['kind', 'status'],
      registers,
    });
    this.#deliveries = new Counter({
      name: 'fcms_deliveries_total',
      help: 'Deliveries settled by a send attempt, by final status (sent, failed, dead) and platform',
      labelNames: ['status', 'platform'],
      registers,
    });
    this.#retries = new Counter({
      name: 'fcms_delivery_retries_total',
      help: 'Deliveries scheduled for another attempt after a retryable FCM error, by platform',
      labelNames: ['platform'],
      registers,
    });
    this.#fcmDuration = new Histogram({
      name: 'fcms_fcm_request_duration_seconds',
      help: 'FCM messages:send exchanges, from stream opened to answer read (or transport failure)',
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.#fcmErrors = new Counter({
      name: 'fcms_fcm_errors_total',
      help: 'FCM errors by code (FCM error codes, AUTH_ERROR, TIMEOUT, CONNECTION_ERROR)',
      labelNames: ['code'],
      registers,
    });
    this.#webhooks = new Counter({
      name: 'fcms_webhook_deliveries_total',
      help: 'Webhook delivery attempts by outcome',
      labelNames: ['outcome'],
      registers,
    });
    this.#httpRequests = new Counter({
      name: 'fcms_http_requests_total',
      help: 'HTTP requests by method, route pattern and status class',
      labelNames: ['method', 'route', 'status_class'],
      registers,
    });
    this.#httpDuration = new Histogram({
      name: 'fcms_http_request_duration_seconds',
      help: 'HTTP request latency by method, route pattern and status class',
      labelNames: ['method', 'route', 'status_class'],
      buckets: LATENCY_BUCKETS,
      registers,
    });

    this.#queueDepths = options.queueDepths;
    if (this.#queueDepths) {
      const read = () => this.#readQueues();
      new Gauge({
        name: 'fcms_queue_jobs',
        help: 'Jobs in a queue by state: ready (could run now), deferred (waiting for their time), active',
        labelNames: ['queue', 'state'],
        registers,
        async collect() {
          this.reset();
          for (const d of (await read()) ?? []) {
            this.set({ queue: d.queue, state: 'ready' }, d.ready);
            this.set({ queue: d.queue, state: 'deferred' }, d.deferred);
            this.set({ queue: d.queue, state: 'active' }, d.active);
          }
        },
      });
      new Gauge({
        name: 'fcms_queue_oldest_job_age_seconds',
        help: 'Age of the oldest job that could run now, per queue (0 when none waits)',
        labelNames: ['queue'],
        registers,
        async collect() {
          this.reset();
          for (const d of (await read()) ?? []) this.set({ queue: d.queue }, d.oldestReadySeconds);
        },
      });
    }
    if (options.processMetrics ?? true) collectDefaultMetrics({ register: this.registry });

    const duration = this.#fcmDuration;
    const errors = this.#fcmErrors;
    this.fcm = {
      exchange(seconds, errorCode) {
        duration.observe(seconds);
        if (errorCode) errors.inc({ code: errorCode });
      },
      failedWithoutRequest(errorCode, count) {
        errors.inc({ code: errorCode }, count);
      },
    };
  }

  /** A notification was accepted: `kind` is its target kind (profile, devices, topic, all, bulk). */
  notificationAccepted(kind: string, status: string): void {
    this.#accepted.inc({ kind, status });
  }

  /**
   * A send batch was recorded: counts the outcomes the database actually applied (`applied`), so a job that
   * runs twice counts nothing twice.
   */
  sendBatchRecorded(
    deliveries: readonly { id: string; platform: string }[],
    outcomes: readonly { id: string; status: string }[],
    applied: ReadonlySet<string>,
  ): void {
    const platformOf = new Map(deliveries.map((d) => [d.id, d.platform]));
    for (const outcome of outcomes) {
      if (!applied.has(outcome.id)) continue;
      const platform = platformOf.get(outcome.id) ?? 'unknown';
      if (outcome.status === 'retrying') this.#retries.inc({ platform });
      else this.#deliveries.inc({ status: outcome.status, platform });
    }
  }

  /** One webhook delivery attempt finished. */
  webhookDelivery(outcome: WebhookOutcome): void {
    this.#webhooks.inc({ outcome });
  }

  /** One HTTP request answered. `route` is the route pattern (undefined when no route matched). */
  httpRequest(method: string, route: string | undefined, statusCode: number, seconds: number): void {
    const labels = {
      method: HTTP_METHODS.has(method) ? method : 'OTHER',
      route: route ?? 'unmatched',
      status_class: `${Math.floor(statusCode / 100)}xx`,
    };
    this.#httpRequests.inc(labels);
    this.#httpDuration.observe(labels, seconds);
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** The Prometheus text exposition of every metric. */
  scrape(): Promise<string> {
    return this.registry.metrics();
  }

  #readQueues(): Promise<QueueDepth[] | undefined> {
    const now = Date.now();
    if (!this.#queueRead || now - this.#queueRead.at > QUEUE_READ_REUSE_MS) {
      const depths = this.#queueDepths!().catch(() => undefined);
      this.#queueRead = { at: now, depths };
    }
    return this.#queueRead.depths;
  }
}
