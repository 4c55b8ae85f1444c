/**
 * One notification: its content, counts per status and platform, its deliveries with their error codes, and
 * progress that follows the event stream live (each event of this notification reloads the status).
 */
import { useEffect, useState } from 'preact/hooks';
import { Link } from 'wouter-preact';
import { call, openEventStream, type StreamEvent } from '../api.ts';
import {
  DataTable,
  Empty,
  Fact,
  Facts,
  Loaded,
  Page,
  Pager,
  Status,
  Table,
  useCursor,
  useLoad,
  useSigned,
  when,
} from '../ui.tsx';

const FINAL = new Set(['completed', 'partially_failed', 'failed']);

/** Reloads on every event of this notification while it is not final; says whether the stream is open. */
function useLiveReload(id: string, active: boolean, reload: () => void): 'live' | 'closed' {
  const { credentials } = useSigned();
  const [state, setState] = useState<'live' | 'closed'>('closed');
  useEffect(() => {
    if (!active) return;
    const socket = openEventStream(credentials, { notification_id: id });
    socket.onopen = () => {
      setState('live');
      // Whatever happened between the first load and the subscription.
      reload();
    };
    socket.onmessage = (message) => {
      const event = JSON.parse(String(message.data)) as StreamEvent;
      if (event.notification_id === id) reload();
    };
    socket.onclose = () => setState('closed');
    return () => socket.close();
  }, [id, active, credentials, reload]);
  return state;
}

/** The attempts to deliver this notification's events to the tenant's webhooks (every endpoint). */
function WebhookAttempts({ id, round }: { id: string; round: string }) {
  const { api } = useSigned();
  const paging = useCursor();
  const [page, reload] = useLoad(
    () =>
      call(
        api.GET('/api/v1/notifications/{id}/webhook-attempts', {
          params: { path: { id }, query: paging.query(20) },
        }),
      ),
    [id, round, paging.cursor],
  );
  return (
    <section aria-labelledby="attempts-title">
      <h2 id="attempts-title">
        Webhook attempts{' '}
        <button type="button" class="small" onClick={reload}>
          Refresh
        </button>
      </h2>
      <DataTable
        load={page}
        empty={
          <>
            No webhook attempts for this notification: no endpoint is registered for its events (see{' '}
            <Link href="/webhooks">Webhooks</Link>), or they are still on their way.
          </>
        }
        paging={paging}
        label="Webhook attempts"
        columns={['Event', 'Endpoint', 'Attempt', 'Status', 'Answer', 'At']}
        row={(t) => (
          <tr key={t.id}>
            <td>{t.event_type}</td>
            <td>
              <code>{t.endpoint_id.slice(0, 8)}…</code>
            </td>
            <td>{t.attempt}</td>
            <td>
              <Status value={t.status} />
            </td>
            <td>{t.error ?? (t.response_status ? `HTTP ${t.response_status}` : '')}</td>
            <td>{when(t.created_at)}</td>
          </tr>
        )}
      />
    </section>
  );
}

export function NotificationPage({ id }: { id: string }) {
  const { api, sandbox } = useSigned();
  const paging = useCursor();
  const [status, reload] = useLoad(
    () =>
      call(
        api.GET('/api/v1/notifications/{id}/status', { params: { path: { id }, query: paging.query(50) } }),
      ),
    [id, paging.cursor],
  );
  const done = status.state === 'ready' && FINAL.has(status.data.notification.status);
  const live = useLiveReload(id, status.state === 'ready' && !done, reload);
  return (
    <Page title="Notification">
      <Loaded load={status}>
        {(data) => {
          const n = data.notification;
          const percent = n.counts.total
            ? Math.round(((n.counts.sent + n.counts.failed) / n.counts.total) * 100)
            : 0;
          return (
            <>
              <Facts>
                <Fact label="Id">
                  <code>{n.id}</code>
                </Fact>
                <Fact label="Status">
                  <Status value={n.status} /> {live === 'live' && <span class="muted">· live</span>}
                </Fact>
                <Fact label="Created">{when(n.created_at)}</Fact>
                <Fact label="Completed">{when(n.completed_at)}</Fact>
                {sandbox && (
                  <Fact label="Sandbox">
                    <Link href="/sandbox">See what the devices received</Link> (the emulator's inbox)
                  </Fact>
                )}
                {n.error_code && <Fact label="Error">{n.error_code}</Fact>}
              </Facts>
              <div class="progress">
                <progress max={100} value={percent} aria-label="Progress" />
                <span>
                  {n.counts.sent} sent · {n.counts.failed} failed · {n.counts.delivered} delivered ·{' '}
                  {n.counts.read} read · of {n.counts.total}
                </span>
              </div>
              <h2>Content</h2>
              <pre class="json">{JSON.stringify({ target: n.target, ...n.content }, null, 2)}</pre>
              <h2>By platform</h2>
              {Object.keys(data.by_platform).length === 0 ? (
                <Empty>No deliveries yet.</Empty>
              ) : (
                <Table
                  label="By platform"
                  columns={['Platform', 'Counts']}
                  rows={Object.entries(data.by_platform)}
                  row={([platform, counts]) => (
                    <tr key={platform}>
                      <td>{platform}</td>
                      <td>
                        {Object.entries(counts)
                          .map(([s, c]) => `${s} ${c}`)
                          .join(' · ')}
                      </td>
                    </tr>
                  )}
                />
              )}
              <h2>Deliveries</h2>
              {data.deliveries.length === 0 ? (
                <Empty>No deliveries yet: the fan-out has not run, or the target matched no device.</Empty>
              ) : (
                <Table
                  label="Deliveries"
                  columns={['Device', 'Platform', 'Status', 'Attempts', 'Error']}
                  rows={data.deliveries}
                  row={(d) => (
                    <tr key={d.id}>
                      <td>
                        <Link href={`/devices/${d.device_id}`}>
                          <code>{d.device_id.slice(0, 8)}…</code>
                        </Link>
                      </td>
                      <td>{d.platform}</td>
                      <td>
                        <Status value={d.status} />
                      </td>
                      <td>{d.attempts}</td>
                      <td>{d.error_code ?? ''}</td>
                    </tr>
                  )}
                />
              )}
              <Pager nextCursor={data.next_cursor} paging={paging} />
            </>
          );
        }}
      </Loaded>
      {/* Reloaded with the status: an event of the notification is also when its webhook attempts change. */}
      <WebhookAttempts id={id} round={status.state === 'ready' ? status.data.notification.status : ''} />
    </Page>
  );
}
