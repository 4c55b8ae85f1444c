/**
 * One device: what it is, its tags and app metadata (editable), deleting it, and its history of deliveries
 * (GET /devices/{id}/deliveries, newest first), each linking to its notification.
 */
import { useState } from 'preact/hooks';
import { Link, useLocation } from 'wouter-preact';
import { call, type Schemas } from '../api.ts';
import {
  DataTable,
  Fact,
  Facts,
  Loaded,
  Outcome,
  Page,
  Status,
  useAction,
  useCursor,
  useLoad,
  useSigned,
  when,
} from '../ui.tsx';

/** Tags typed separated by commas or spaces. */
export const tagsOf = (text: string): string[] => text.split(/[\s,]+/).filter(Boolean);

function EditDevice({ device, onSaved }: { device: Schemas['Device']; onSaved: () => void }) {
  const { api } = useSigned();
  const [, navigate] = useLocation();
  const [tags, setTags] = useState(device.tags.join(', '));
  const [appVersion, setAppVersion] = useState(device.app_version ?? '');
  const [saved, setSaved] = useState(false);
  const [action, run] = useAction();
  const path = { id: device.id };
  return (
    <form
      class="inline-form"
      aria-label="Edit device"
      onSubmit={(event) => {
        event.preventDefault();
        void run(async () => {
          setSaved(false);
          await call(
            api.PUT('/api/v1/devices/{id}', {
              params: { path },
              body: { tags: tagsOf(tags), app_version: appVersion === '' ? null : appVersion },
            }),
          );
          setSaved(true);
          onSaved();
        });
      }}
    >
      <label>
        Tags
        <input type="text" value={tags} onInput={(e) => setTags(e.currentTarget.value)} />
      </label>
      <label>
        App version
        <input type="text" value={appVersion} onInput={(e) => setAppVersion(e.currentTarget.value)} />
      </label>
      <div class="actions">
        <button type="submit" disabled={action.busy}>
          Save
        </button>
        <button
          type="button"
          class="danger"
          disabled={action.busy}
          onClick={() =>
            run(async () => {
              if (!confirm('Delete this device? It stops receiving; it can be restored for 30 days.')) return;
              await call(api.DELETE('/api/v1/devices/{id}', { params: { path } }));
              navigate('/devices');
            })
          }
        >
          Delete
        </button>
      </div>
      <Outcome said={saved && 'Saved.'} error={action.error} />
    </form>
  );
}

function Deliveries({ id }: { id: string }) {
  const { api } = useSigned();
  const paging = useCursor();
  const [page, reload] = useLoad(
    () =>
      call(api.GET('/api/v1/devices/{id}/deliveries', { params: { path: { id }, query: paging.query(20) } })),
    [id, paging.cursor],
  );
  return (
    <section aria-labelledby="deliveries-title">
      <h2 id="deliveries-title">
        Deliveries{' '}
        <button type="button" class="small" onClick={reload}>
          Refresh
        </button>
      </h2>
      <DataTable
        load={page}
        empty="Nothing was sent to this device yet. Compose a notification to it by its id."
        paging={paging}
        label="Deliveries"
        columns={['Notification', 'Status', 'Attempts', 'Error', 'Created']}
        row={(d) => (
          <tr key={d.id}>
            <td>
              <Link href={`/notifications/${d.notification_id}`}>
                <code>{d.notification_id.slice(0, 8)}…</code>
              </Link>
            </td>
            <td>
              <Status value={d.status} />
            </td>
            <td>{d.attempts}</td>
            <td>
              {d.error_code ?? ''}
              {d.error_message && <div class="muted">{d.error_message}</div>}
            </td>
            <td>{when(d.created_at)}</td>
          </tr>
        )}
      />
    </section>
  );
}

export function DevicePage({ id }: { id: string }) {
  const { api } = useSigned();
  const [device, reload] = useLoad(
    () => call(api.GET('/api/v1/devices/{id}', { params: { path: { id } } })),
    [id],
  );
  return (
    <Page title="Device">
      <Loaded load={device}>
        {(d) => (
          <>
            <Facts>
              <Fact label="Id">
                <code>{d.id}</code>
              </Fact>
              <Fact label="Token">…{d.token_suffix}</Fact>
              <Fact label="Platform">{d.platform}</Fact>
              <Fact label="State">
                <Status value={d.is_active ? 'active' : 'inactive'} />
                {d.deactivated_reason && ` ${d.deactivated_reason} · ${when(d.deactivated_at)}`}
              </Fact>
              <Fact label="Profile">{d.profile_id ? <code>{d.profile_id}</code> : '—'}</Fact>
              <Fact label="Model / OS">
                {d.model ?? '—'} / {d.os_version ?? '—'}
              </Fact>
              <Fact label="Last seen">{when(d.last_seen_at)}</Fact>
            </Facts>
            <EditDevice device={d} onSaved={reload} />
          </>
        )}
      </Loaded>
      <Deliveries id={id} />
    </Page>
  );
}
