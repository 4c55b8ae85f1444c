/** The notification history: filters (status, dates, topic, template, schedule) and cursor paging. */
import { useState } from 'preact/hooks';
import { Link } from 'wouter-preact';
import type { paths } from '../../../packages/client/src/schema.d.ts';
import { call } from '../api.ts';
import { DataTable, Page, Status, useCursor, useLoad, useSigned, when } from '../ui.tsx';

type Query = NonNullable<paths['/api/v1/notifications']['get']['parameters']['query']>;
const STATUSES = ['queued', 'sending', 'completed', 'partially_failed', 'failed'] as const;

/** The filter form's fields, all strings; empty means "any". */
interface Filters {
  status: string;
  from: string;
  to: string;
  topic_id: string;
  template_id: string;
  schedule_id: string;
}

function queryOf(filters: Filters, cursor: string | undefined): Query {
  const query: Query = { limit: 25 };
  if (cursor) query.cursor = cursor;
  if (filters.status) query.status = filters.status as Query['status'];
  if (filters.from) query.created_from = new Date(filters.from).toISOString();
  if (filters.to) query.created_to = new Date(filters.to).toISOString();
  for (const key of ['topic_id', 'template_id', 'schedule_id'] as const)
    if (filters[key]) query[key] = filters[key];
  return query;
}

const title = (content: Record<string, unknown>): string =>
  typeof content.title === 'string'
    ? content.title
    : typeof content.body === 'string'
      ? content.body
      : '(no title)';

export function NotificationsPage() {
  const { api } = useSigned();
  const empty: Filters = { status: '', from: '', to: '', topic_id: '', template_id: '', schedule_id: '' };
  const [draft, setDraft] = useState<Filters>(empty);
  const [filters, setFilters] = useState<Filters>(empty);
  const paging = useCursor();
  const [page] = useLoad(
    () => call(api.GET('/api/v1/notifications', { params: { query: queryOf(filters, paging.cursor) } })),
    [filters, paging.cursor],
  );
  const input = (key: keyof Filters, label: string, type = 'text') => (
    <label>
      {label}
      <input
        type={type}
        name={key}
        value={draft[key]}
        onInput={(e) => setDraft({ ...draft, [key]: e.currentTarget.value })}
      />
    </label>
  );
  return (
    <Page title="Notifications" actions={<Link href="/compose">Compose</Link>}>
      <form
        class="filters"
        aria-label="Filters"
        onSubmit={(event) => {
          event.preventDefault();
          paging.reset();
          setFilters(draft);
        }}
      >
        <label>
          Status
          <select
            name="status"
            value={draft.status}
            onChange={(e) => setDraft({ ...draft, status: e.currentTarget.value })}
          >
            <option value="">any</option>
            {STATUSES.map((s) => (
              <option key={s} value={s}>
                {s.replace('_', ' ')}
              </option>
            ))}
          </select>
        </label>
        {input('from', 'Created from', 'datetime-local')}
        {input('to', 'Created before', 'datetime-local')}
        {input('topic_id', 'Topic id')}
        {input('template_id', 'Template id')}
        {input('schedule_id', 'Schedule id')}
        <button type="submit">Apply</button>
      </form>
      <DataTable
        load={page}
        empty={
          <>
            No notifications match. <Link href="/compose">Send one</Link>.
          </>
        }
        paging={paging}
        columns={['Created', 'Title', 'Status', 'Sent / total', 'Failed']}
        row={(n) => (
          <tr key={n.id}>
            <td>{when(n.created_at)}</td>
            <td>
              <Link href={`/notifications/${n.id}`}>{title(n.content)}</Link>
            </td>
            <td>
              <Status value={n.status} />
            </td>
            <td>
              {n.counts.sent} / {n.counts.total}
            </td>
            <td>{n.counts.failed}</td>
          </tr>
        )}
      />
    </Page>
  );
}
