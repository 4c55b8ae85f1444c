/** Schedules: one-off and recurring sends, filtered by status and recurrence; pause, resume or cancel each. */
import { useState } from 'preact/hooks';
import { Link } from 'wouter-preact';
import type { paths } from '../../../packages/client/src/schema.d.ts';
import { call } from '../api.ts';
import {
  Choice,
  DataTable,
  Outcome,
  Page,
  Status,
  useAction,
  useCursor,
  useLoad,
  useSigned,
  when,
} from '../ui.tsx';

type Query = NonNullable<paths['/api/v1/schedules']['get']['parameters']['query']>;
const STATUSES = ['active', 'paused', 'completed', 'cancelled'] as const;
const RECURRENCES = ['none', 'daily', 'weekly', 'monthly', 'cron'] as const;
type Verb = 'pause' | 'resume' | 'cancel';

export function SchedulesPage() {
  const { api } = useSigned();
  const [status, setStatus] = useState('');
  const [recurrence, setRecurrence] = useState('');
  const paging = useCursor();
  const [page, reload] = useLoad(() => {
    const query: Query = { limit: 50 };
    if (paging.cursor) query.cursor = paging.cursor;
    if (status) query.status = status as Query['status'];
    if (recurrence) query.recurrence = recurrence as Query['recurrence'];
    return call(api.GET('/api/v1/schedules', { params: { query } }));
  }, [status, recurrence, paging.cursor]);
  const [action, run] = useAction();
  const [done, setDone] = useState('');
  const act = (verb: Verb, id: string) =>
    run(async () => {
      const params = { params: { path: { id } } };
      if (verb === 'pause') await call(api.POST('/api/v1/schedules/{id}/pause', params));
      else if (verb === 'resume') await call(api.POST('/api/v1/schedules/{id}/resume', params));
      else await call(api.POST('/api/v1/schedules/{id}/cancel', params));
      setDone(`Schedule ${verb === 'pause' ? 'paused' : verb === 'resume' ? 'resumed' : 'cancelled'}.`);
      reload();
    });
  const filter = (set: (value: string) => void) => (value: string) => {
    paging.reset();
    set(value);
  };
  return (
    <Page title="Schedules" actions={<Link href="/compose">Schedule a send</Link>}>
      <fieldset class="filters">
        <legend class="visually-hidden">Filters</legend>
        <Choice label="Status" value={status} options={STATUSES} onChange={filter(setStatus)} />
        <Choice
          label="Recurrence"
          value={recurrence}
          options={RECURRENCES}
          onChange={filter(setRecurrence)}
        />
      </fieldset>
      <Outcome said={done} error={action.error} />
      <DataTable
        load={page}
        empty={
          <>
            No schedules match. Schedule a send from <Link href="/compose">Compose</Link> ("Send later").
          </>
        }
        paging={paging}
        columns={['Name', 'Status', 'Repeats', 'Next run', 'Runs', 'Actions']}
        row={(s) => (
          <tr key={s.id}>
            <td>
              {s.name ?? <span class="muted">{s.id}</span>}
              {s.last_notification_id && (
                <div>
                  <Link href={`/notifications/${s.last_notification_id}`}>last notification</Link>
                </div>
              )}
            </td>
            <td>
              <Status value={s.status} />
            </td>
            <td>
              {s.recurrence === 'cron' ? `cron ${s.cron}` : s.recurrence}
              <div class="muted">{s.timezone}</div>
            </td>
            <td>{when(s.next_run_at)}</td>
            <td>{s.occurrence_count}</td>
            <td class="actions">
              {s.status === 'active' && (
                <button type="button" disabled={action.busy} onClick={() => act('pause', s.id)}>
                  Pause
                </button>
              )}
              {s.status === 'paused' && (
                <button type="button" disabled={action.busy} onClick={() => act('resume', s.id)}>
                  Resume
                </button>
              )}
              {(s.status === 'active' || s.status === 'paused') && (
                <button type="button" disabled={action.busy} onClick={() => act('cancel', s.id)}>
                  Cancel
                </button>
              )}
            </td>
          </tr>
        )}
      />
    </Page>
  );
}
