/** Dead letters: deliveries that ran out of attempts, with their reasons; requeue or discard, one or selected. */
import { useState } from 'preact/hooks';
import { Link } from 'wouter-preact';
import { call } from '../api.ts';
import { DataTable, Outcome, Page, useAction, useCursor, useLoad, useSigned, when } from '../ui.tsx';

export function DeadLettersPage() {
  const { api } = useSigned();
  const paging = useCursor();
  const [page, reload] = useLoad(
    () => call(api.GET('/api/v1/dead-letters', { params: { query: paging.query(50) } })),
    [paging.cursor],
  );
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const [done, setDone] = useState('');
  const [action, run] = useAction();
  const act = (verb: 'requeue' | 'discard', ids: string[]) =>
    run(async () => {
      if (verb === 'requeue') await call(api.POST('/api/v1/dead-letters/requeue', { body: { ids } }));
      else await call(api.POST('/api/v1/dead-letters/discard', { body: { ids } }));
      setDone(`${verb === 'requeue' ? 'Requeued' : 'Discarded'} ${ids.length} delivery(ies).`);
      setSelected(new Set());
      reload();
    });
  const toggle = (id: string) => {
    const next = new Set(selected);
    if (next.has(id)) next.delete(id);
    else next.add(id);
    setSelected(next);
  };
  return (
    <Page
      title="Dead letters"
      actions={
        <>
          <button
            type="button"
            disabled={selected.size === 0 || action.busy}
            onClick={() => act('requeue', [...selected])}
          >
            Requeue selected ({selected.size})
          </button>
          <button
            type="button"
            disabled={selected.size === 0 || action.busy}
            onClick={() => act('discard', [...selected])}
          >
            Discard selected
          </button>
        </>
      }
    >
      <Outcome said={done} error={action.error} />
      <DataTable
        load={page}
        empty="No dead letters: every delivery was sent, failed for good, or is still being retried."
        paging={paging}
        columns={[{ hidden: 'Select' }, 'Failed', 'Reason', 'Attempts', 'Notification', 'Actions']}
        row={(d) => (
          <tr key={d.id}>
            <td>
              <input
                type="checkbox"
                aria-label={`Select delivery ${d.id}`}
                checked={selected.has(d.id)}
                onChange={() => toggle(d.id)}
              />
            </td>
            <td>{when(d.failed_at)}</td>
            <td>
              <strong>{d.error_code ?? '—'}</strong>
              {d.error_message && <div class="muted">{d.error_message}</div>}
            </td>
            <td>{d.attempts}</td>
            <td>
              <Link href={`/notifications/${d.notification_id}`}>{d.platform}</Link>
            </td>
            <td class="actions">
              <button type="button" disabled={action.busy} onClick={() => act('requeue', [d.id])}>
                Requeue
              </button>
              <button type="button" disabled={action.busy} onClick={() => act('discard', [d.id])}>
                Discard
              </button>
            </td>
          </tr>
        )}
      />
    </Page>
  );
}
