/** Settings: the tenant's Firebase projects (upload a service-account file), API clients (admin), the audit log. */
import { useState } from 'preact/hooks';
import { ApiError, call, type Schemas } from '../api.ts';
import {
  DataTable,
  ErrorBox,
  FormCard,
  Outcome,
  Page,
  Status,
  useAction,
  useCursor,
  useLoad,
  useSigned,
  when,
} from '../ui.tsx';

function FirebaseProjects({ onChange }: { onChange: () => void }) {
  const { api } = useSigned();
  const [page, reload] = useLoad(
    () => call(api.GET('/api/v1/firebase-projects', { params: { query: { limit: 100 } } })),
    [],
  );
  const [file, setFile] = useState<File | undefined>();
  const [makeDefault, setMakeDefault] = useState(false);
  const [done, setDone] = useState('');
  const [action, run] = useAction();
  const upload = () =>
    run(async () => {
      if (!file) throw new ApiError(0, 'no_file', 'Choose the service-account JSON file first.', undefined);
      let account: Record<string, unknown>;
      try {
        account = JSON.parse(await file.text()) as Record<string, unknown>;
      } catch {
        throw new ApiError(0, 'invalid_json', `${file.name} is not a JSON file.`, undefined);
      }
      const project = await call(
        api.POST('/api/v1/firebase-projects', {
          body: { service_account: account, ...(makeDefault ? { is_default: true } : {}) },
        }),
      );
      setDone(`Added ${project.project_id} (${project.client_email}).`);
      reload();
      onChange();
    });
  return (
    <section aria-labelledby="firebase">
      <h2 id="firebase">Firebase projects</h2>
      <form
        class="inline-form"
        onSubmit={(event) => {
          event.preventDefault();
          upload();
        }}
      >
        <label>
          Service-account file (JSON)
          <input
            type="file"
            accept="application/json,.json"
            onChange={(e) => setFile(e.currentTarget.files?.[0])}
          />
        </label>
        <label class="check">
          <input type="checkbox" checked={makeDefault} onChange={() => setMakeDefault(!makeDefault)} /> Make
          it the default
        </label>
        <button type="submit" class="primary" disabled={action.busy}>
          Upload
        </button>
      </form>
      <p class="muted">The private key is stored encrypted and never shown again.</p>
      <Outcome said={done} error={action.error} />
      <DataTable
        load={page}
        empty="No Firebase project yet: upload its service-account file to send through FCM."
        label="Firebase projects"
        columns={['Project', 'Service account', 'Default', 'Added']}
        row={(p) => (
          <tr key={p.id}>
            <td>{p.project_id}</td>
            <td>{p.client_email}</td>
            <td>{p.is_default ? 'default' : ''}</td>
            <td>{when(p.created_at)}</td>
          </tr>
        )}
      />
    </section>
  );
}

/** A new client token: shown once (the server keeps only its hash), with the id to sign in with. */
function IssuedToken({ issued }: { issued: Schemas['ApiClientWithToken'] }) {
  return (
    <div role="status">
      <p>
        <strong>Copy this token now: it is not shown again.</strong> Client id <code>{issued.id}</code>
      </p>
      <code class="secret" title="New client token">
        {issued.client_token}
      </code>
    </div>
  );
}

const SCOPES = ['send', 'read', 'manage', 'admin'] as const;

function ClientRow({ client, onChange }: { client: Schemas['ApiClient']; onChange: () => void }) {
  const { api } = useSigned();
  const [issued, setIssued] = useState<Schemas['ApiClientWithToken']>();
  const [action, run] = useAction();
  const path = { id: client.id };
  return (
    <tr>
      <td>
        {client.name}
        <div class="muted">{client.id}</div>
        {issued && <IssuedToken issued={issued} />}
        {action.error && <ErrorBox error={action.error} />}
      </td>
      <td>{client.scopes.join(', ')}</td>
      <td>
        <Status value={client.status} />
      </td>
      <td>{when(client.created_at)}</td>
      <td>
        <div class="actions">
          <button
            type="button"
            class="small"
            disabled={action.busy || client.status !== 'active'}
            aria-label={`Rotate the token of ${client.name}`}
            onClick={() =>
              run(async () => {
                // The old token keeps working for an hour, so whoever uses it can switch without an outage.
                const body = { grace_seconds: 3600 };
                setIssued(
                  await call(api.POST('/api/v1/admin/clients/{id}/rotate', { params: { path }, body })),
                );
                onChange();
              })
            }
          >
            Rotate token
          </button>
          <button
            type="button"
            class="small danger"
            disabled={action.busy || client.status !== 'active'}
            aria-label={`Revoke ${client.name}`}
            onClick={() =>
              run(async () => {
                if (!confirm(`Revoke ${client.name}? Its tokens stop working at once.`)) return;
                await call(api.POST('/api/v1/admin/clients/{id}/revoke', { params: { path } }));
                onChange();
              })
            }
          >
            Revoke
          </button>
        </div>
      </td>
    </tr>
  );
}

function CreateClient({ onDone }: { onDone: () => void }) {
  const { api } = useSigned();
  return (
    <FormCard
      title="Create an API client"
      submitLabel="Create"
      fields={{
        name: { label: 'Name', required: true, placeholder: 'shop-backend' },
        scopes: { label: 'Scopes', placeholder: 'send, read, manage (the default)' },
      }}
      submit={async (v) => {
        const scopes = v.scopes.split(/[\s,]+/).filter(Boolean) as (typeof SCOPES)[number][];
        const issued = await call(
          api.POST('/api/v1/admin/clients', {
            body: { name: v.name, ...(scopes.length > 0 ? { scopes } : {}) },
          }),
        );
        onDone();
        return <IssuedToken issued={issued} />;
      }}
    />
  );
}

function ApiClients() {
  const { api } = useSigned();
  const paging = useCursor();
  const [page, reload] = useLoad(
    () => call(api.GET('/api/v1/admin/clients', { params: { query: paging.query(50) } })),
    [paging.cursor],
  );
  return (
    <>
      <CreateClient onDone={reload} />
      <DataTable
        load={page}
        empty="No API clients."
        paging={paging}
        label="API clients"
        columns={['Name', 'Scopes', 'Status', 'Created', 'Actions']}
        row={(c) => <ClientRow key={c.id} client={c} onChange={reload} />}
      />
    </>
  );
}

/** The newest entries first; `round` changes when this page changed something, to show it at once. */
function AuditLog({ round }: { round: number }) {
  const { api } = useSigned();
  const paging = useCursor();
  const [page] = useLoad(
    () => call(api.GET('/api/v1/audit-logs', { params: { query: paging.query(25) } })),
    [paging.cursor, round],
  );
  return (
    <section aria-labelledby="audit">
      <h2 id="audit">Audit log</h2>
      <DataTable
        load={page}
        empty="Nothing audited yet: changes to clients, projects, templates and webhooks show here."
        paging={paging}
        label="Audit log"
        columns={['When', 'Action', 'Target', 'Request id']}
        row={(entry) => (
          <tr key={entry.id}>
            <td>{when(entry.created_at)}</td>
            <td>{entry.action}</td>
            <td>
              {entry.target_type ?? '—'}
              {entry.target_id && <div class="muted">{entry.target_id}</div>}
            </td>
            <td class="muted">{entry.request_id ?? '—'}</td>
          </tr>
        )}
      />
    </section>
  );
}

export function SettingsPage() {
  const { credentials } = useSigned();
  const admin = credentials.scopes.includes('admin');
  const [round, setRound] = useState(0);
  return (
    <Page title="Settings">
      <FirebaseProjects onChange={() => setRound((n) => n + 1)} />
      <section aria-labelledby="clients">
        <h2 id="clients">API clients</h2>
        {admin ? (
          <ApiClients />
        ) : (
          <p class="empty">
            Listing API clients needs the <code>admin</code> scope; this client has{' '}
            {credentials.scopes.join(', ')}.
          </p>
        )}
      </section>
      <AuditLog round={round} />
    </Page>
  );
}
