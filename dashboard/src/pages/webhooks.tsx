/** Webhooks: register an endpoint, send it a test event, rotate its secret, and read its attempt log. */
import { useState } from 'preact/hooks';
import { call, type Schemas } from '../api.ts';
import { DataTable, ErrorBox, Listing, Page, Status, useAction, useLoad, useSigned, when } from '../ui.tsx';

function Attempts({ id, round }: { id: string; round: number }) {
  const { api } = useSigned();
  const [attempts, reload] = useLoad(
    () =>
      call(api.GET('/api/v1/webhooks/{id}/deliveries', { params: { path: { id }, query: { limit: 20 } } })),
    [id, round],
  );
  return (
    <div>
      <h3>
        Attempts{' '}
        <button type="button" onClick={reload}>
          Refresh
        </button>
      </h3>
      <DataTable
        load={attempts}
        empty="No attempts yet."
        label="Attempts"
        columns={['When', 'Event', 'Attempt', 'Result', 'Answer']}
        row={(a) => (
          <tr key={a.id}>
            <td>{when(a.created_at)}</td>
            <td>{a.event_type}</td>
            <td>{a.attempt}</td>
            <td>
              <Status value={a.status} />
            </td>
            <td>
              {a.response_status ?? ''} {a.error ?? ''} {a.duration_ms === null ? '' : `${a.duration_ms} ms`}
            </td>
          </tr>
        )}
      />
    </div>
  );
}

function WebhookCard({ hook, onChange }: { hook: Schemas['Webhook']; onChange: () => void }) {
  const { api } = useSigned();
  const [action, run] = useAction();
  const [secret, setSecret] = useState('');
  const [round, setRound] = useState(0);
  return (
    <article class="card" aria-label={`Webhook ${hook.url}`}>
      <h2>{hook.url}</h2>
      <p class="muted">
        {hook.is_active ? 'active' : `disabled: ${hook.disabled_reason ?? ''}`} · events:{' '}
        {hook.event_types.length ? hook.event_types.join(', ') : 'all'} · last success{' '}
        {when(hook.last_success_at)}
      </p>
      <div class="actions">
        <button
          type="button"
          disabled={action.busy}
          onClick={() =>
            run(async () => {
              await call(api.POST('/api/v1/webhooks/{id}/test', { params: { path: { id: hook.id } } }));
              setRound((n) => n + 1);
            })
          }
        >
          Send a test event
        </button>
        <button
          type="button"
          disabled={action.busy}
          onClick={() =>
            run(async () => {
              const rotated = await call(
                api.POST('/api/v1/webhooks/{id}/rotate-secret', {
                  params: { path: { id: hook.id } },
                  body: {},
                }),
              );
              setSecret(rotated.secret);
              onChange();
            })
          }
        >
          Rotate the secret
        </button>
      </div>
      {secret && (
        <p role="status">
          New secret (shown once; the old one keeps working during its grace period): <code>{secret}</code>
        </p>
      )}
      {action.error && <ErrorBox error={action.error} />}
      <Attempts id={hook.id} round={round} />
    </article>
  );
}

export function WebhooksPage() {
  const { api } = useSigned();
  const [hooks, reload] = useLoad(
    () => call(api.GET('/api/v1/webhooks', { params: { query: { limit: 50 } } })),
    [],
  );
  const [url, setUrl] = useState('');
  const [created, setCreated] = useState('');
  const [action, run] = useAction();
  return (
    <Page title="Webhooks">
      <form
        class="inline-form"
        onSubmit={(event) => {
          event.preventDefault();
          void run(async () => {
            const hook = await call(api.POST('/api/v1/webhooks', { body: { url } }));
            setCreated(hook.secret);
            setUrl('');
            reload();
          });
        }}
      >
        <label>
          Endpoint URL
          <input name="url" type="url" required value={url} onInput={(e) => setUrl(e.currentTarget.value)} />
        </label>
        <button type="submit" class="primary" disabled={action.busy}>
          Register
        </button>
      </form>
      {created && (
        <p role="status">
          Registered. Its signing secret (shown once): <code>{created}</code>
        </p>
      )}
      {action.error && <ErrorBox error={action.error} />}
      <Listing load={hooks} empty="No webhooks: register an endpoint to receive this tenant's events.">
        {(items) => items.map((hook) => <WebhookCard key={hook.id} hook={hook} onChange={reload} />)}
      </Listing>
    </Page>
  );
}
