/**
 * Overview: today and the last 30 days (UTC) from the analytics endpoints, a daily chart (uPlot), delivery
 * times, and from readiness the queue depth and the FCM circuits. A tenant that has sent nothing is told how.
 */
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import { Link } from 'wouter-preact';
import { call, type Schemas } from '../api.ts';
import { Empty, Loaded, Page, useLoad, useSigned } from '../ui.tsx';

const day = (offset: number): string => new Date(Date.now() - offset * 86_400_000).toISOString().slice(0, 10);
const percent = (rate: number | null): string => (rate === null ? '—' : `${(rate * 100).toFixed(1)}%`);
const ms = (value: number | null): string => (value === null ? '—' : `${Math.round(value)} ms`);

function Stats({ title, stats }: { title: string; stats: Schemas['AnalyticsStats'] }) {
  const tiles: Array<[string, string]> = [
    ['Notifications', String(stats.notifications)],
    ['Deliveries', String(stats.deliveries)],
    ['Sent', String(stats.sent)],
    ['Delivered', String(stats.delivered)],
    ['Read', String(stats.read)],
    ['Failed', String(stats.failed)],
    ['Delivery rate', percent(stats.delivery_rate)],
    ['Read rate', percent(stats.read_rate)],
    ['p95 delivery', ms(stats.p95_delivery_ms)],
  ];
  return (
    <section aria-label={title}>
      <h2>{title}</h2>
      <dl class="tiles">
        {tiles.map(([label, value]) => (
          <div key={label} class="tile">
            <dt>{label}</dt>
            <dd>{value}</dd>
          </div>
        ))}
      </dl>
    </section>
  );
}

function DailyChart({ items }: { items: Schemas['AnalyticsSeries']['items'] }) {
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const element = box.current;
    if (!element) return;
    const x = items.map((item) => Date.parse(`${item.start}T00:00:00Z`) / 1000);
    const plot = new uPlot(
      {
        width: element.clientWidth,
        height: 240,
        series: [
          {},
          { label: 'Sent', stroke: '#2563eb', width: 2 },
          { label: 'Delivered', stroke: '#16a34a', width: 2 },
          { label: 'Read', stroke: '#9333ea', width: 2 },
          { label: 'Failed', stroke: '#dc2626', width: 2 },
        ],
        axes: [{}, { size: 50 }],
      },
      [
        x,
        items.map((i) => i.sent),
        items.map((i) => i.delivered),
        items.map((i) => i.read),
        items.map((i) => i.failed),
      ],
      element,
    );
    const resize = () => plot.setSize({ width: element.clientWidth, height: 240 });
    window.addEventListener('resize', resize);
    return () => {
      window.removeEventListener('resize', resize);
      plot.destroy();
    };
  }, [items]);
  return <div ref={box} class="chart" role="img" aria-label="Deliveries per day over the last 30 days" />;
}

function Health() {
  const { api } = useSigned();
  const [ready] = useLoad(async (): Promise<Schemas['Readiness']> => {
    const answer = await api.GET('/api/v1/health/ready');
    // A 503 still carries the readiness document: it is the answer, not an error of the dashboard.
    const body = answer.error as Partial<Schemas['Readiness']> | undefined;
    if (answer.response.status === 503 && body?.checks) return body as Schemas['Readiness'];
    return call(Promise.resolve(answer));
  }, []);
  return (
    <section aria-label="Health">
      <h2>Health</h2>
      <Loaded load={ready}>
        {(r) => (
          <dl class="tiles">
            <div class="tile">
              <dt>Server</dt>
              <dd>{r.status}</dd>
            </div>
            <div class="tile">
              <dt>Queue waiting</dt>
              <dd>{r.checks.queue.waiting ?? '—'}</dd>
            </div>
            <div class="tile">
              <dt>Oldest job</dt>
              <dd>
                {r.checks.queue.oldest_job_age_seconds === undefined
                  ? '—'
                  : `${r.checks.queue.oldest_job_age_seconds} s`}
              </dd>
            </div>
            <div class="tile">
              <dt>FCM circuits</dt>
              <dd>
                {r.checks.fcm_sends.circuits.length === 0
                  ? 'none used'
                  : r.checks.fcm_sends.circuits.map((c) => `${c.project}: ${c.state}`).join(', ')}
              </dd>
            </div>
          </dl>
        )}
      </Loaded>
    </section>
  );
}

export function OverviewPage() {
  const { api } = useSigned();
  const [numbers] = useLoad(async () => {
    // Two requests, not three: today is the daily series' last item (zero-filled, so always there), with the
    // same numbers GET /analytics gives for one day, its p95 exact. The 30-day totals need GET /analytics: a
    // p95 over days is not a sum of the days, and the API computes it (docs/analytics.md).
    const range = { params: { query: { from: day(29), to: day(0) } } };
    const [month, daily] = await Promise.all([
      call(api.GET('/api/v1/analytics', range)),
      call(api.GET('/api/v1/analytics/daily', range)),
    ]);
    return { today: daily.items.at(-1), month, daily };
  }, []);
  return (
    <Page title="Overview" actions={<Link href="/compose">Compose a notification</Link>}>
      <Loaded load={numbers}>
        {({ today, month, daily }) =>
          month.totals.notifications === 0 ? (
            <Empty>
              Nothing sent in the last 30 days. <Link href="/compose">Send a first notification</Link>
              {' — '}in the sandbox, add a test device on the <Link href="/sandbox">Sandbox inbox</Link> page
              first.
            </Empty>
          ) : (
            <>
              {today && <Stats title="Today (UTC)" stats={today} />}
              <Stats title="Last 30 days" stats={month.totals} />
              <h2>Per day</h2>
              <DailyChart items={daily.items} />
              {month.by_platform.length > 0 && (
                <p class="muted">
                  By platform:{' '}
                  {month.by_platform
                    .map((p) => `${p.platform} ${p.deliveries} deliveries, ${p.failed} failed`)
                    .join(' · ')}
                </p>
              )}
            </>
          )
        }
      </Loaded>
      <Health />
    </Page>
  );
}
