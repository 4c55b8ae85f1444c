/** Settings: the tenant's Firebase projects (upload a service-account file), API clients (admin), the audit log. */
import { useState } from 'preact/hooks';
import { ApiError, call } from '../api.ts';
import {
  Empty,
  ErrorBox,
  Loaded,
  Page,
  Pager,
  Status,
  useAction,
  useCursor,
  useLoad,
  useSigned,
  when,
} from '../ui.tsx';

function FirebaseProjects() {
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
      {done && (
        <p class="muted" role="status">
          {done}
        </p>
      )}
      {action.error && <ErrorBox error={action.error} />}
      <Loaded load={page}>
        {(data) =>
          data.items.length === 0 ? (
            <Empty>No Firebase project yet: upload its service-account file to send through FCM.</Empty>
          ) : (
            <div class="table-wrap">
              <table aria-label="Firebase projects">
                <thead>
                  <tr>
                    <th scope="col">Project</th>
                    <th scope="col">Service account</th>
                    <th scope="col">Default</th>
                    <th scope="col">Added</th>
                  </tr>
                </thead>
                <tbody>
                  {data.items.map((p) => (
                    <tr key={p.id}>
                      <td>{p.project_id}</td>
                      <td>{p.client_email}</td>
                      <td>{p.is_default ? 'default' : ''}</td>
                      <td>{when(p.created_at)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )
        }
      </Loaded>
    </section>
  );
}

function ApiClients() {
  const { api } = useSigned();
  const paging = useCursor();
  const [page] = useLoad(
    () =>
      call(
        api.GET('/api/v1/admin/clients', {
          params: { query: { limit: 50, ...(paging.cursor ? { cursor: paging.cursor } : {}) } },
        }),
      ),
    [paging.cursor],
  );
  return (
    <Loaded load={page}>
      {(data) =>
        data.items.length === 0 ? (
          <Empty>No API clients.</Empty>
        ) : (
          <>
            <div class="table-wrap">
              <table aria-label="API clients">
                <thead>
                  <tr>
                    <th scope="col">Name</th>
                    <th scope="col">Scopes</th>
                    <th scope="col">Status</th>
                    <th scope="col">Created</th>
                  </tr>
                </thead>
                <tbody>
                  {data.items.map((c) => (
                    <tr key={c.id}>
                      <td>
                        {c.name}
                        <div class="muted">{c.id}</div>
                      </td>
                      <td>{c.scopes.join(', ')}</td>
                      <td>
                        <Status value={c.status} />
                      </td>
                      <td>{when(c.created_at)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
            <Pager nextCursor={data.next_cursor} paging={paging} />
          </>
        )
      }
    </Loaded>
  );
}

function AuditLog() {
  const { api } = useSigned();
  const paging = useCursor();
  const [page] = useLoad(
    () =>
      call(
        api.GET('/api/v1/audit-logs', {
          params: { query: { limit: 25, ...(paging.cursor ? { cursor: paging.cursor } : {}) } },
        }),
      ),
    [paging.cursor],
  );
  return (
    <section aria-labelledby="audit">
      <h2 id="audit">Audit log</h2>
      <Loaded load={page}>
        {(data) =>
          data.items.length === 0 ? (
            <Empty>
              Nothing audited yet: changes to clients, projects, templates and webhooks show here.
            </Empty>
          ) : (
            <>
              <div class="table-wrap">
                <table aria-label="Audit log">
                  <thead>
                    <tr>
                      <th scope="col">When</th>
                      <th scope="col">Action</th>
                      <th scope="col">Target</th>
                      <th scope="col">Request id</th>
                    </tr>
                  </thead>
                  <tbody>
                    {data.items.map((entry) => (
                      <tr key={entry.id}>
                        <td>{when(entry.created_at)}</td>
                        <td>{entry.action}</td>
                        <td>
                          {entry.target_type ?? '—'}
                          {entry.target_id && <div class="muted">{entry.target_id}</div>}
                        </td>
                        <td class="muted">{entry.request_id ?? '—'}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
              <Pager nextCursor={data.next_cursor} paging={paging} />
            </>
          )
        }
      </Loaded>
    </section>
  );
}

export function SettingsPage() {
  const { credentials } = useSigned();
  const admin = credentials.scopes.includes('admin');
  return (
    <Page title="Settings">
      <FirebaseProjects />
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
      <AuditLog />
    </Page>
  );
}
