/**
 * Sandbox inbox: what the in-process FCM emulator received for this tenant's devices, drawn as the
 * notification would look on Android, iOS and Web. Test devices are added here through the devices API; an
 * `unregistered-…` token makes the emulator answer UNREGISTERED, so the device is deactivated on send, and a
 * device's fault buttons make the emulator fail its next sends (a 503 burst the retries ride out, or UNREGISTERED);
 * the page then refreshes itself for a minute so the retries and the deactivation can be watched.
 */
import { useEffect, useState } from 'preact/hooks';
import { Link } from 'wouter-preact';
import { call, type Schemas } from '../api.ts';
import {
  ErrorBox,
  Listing,
  Page,
  Status,
  Table,
  useAction,
  useCursor,
  useLoad,
  useSigned,
  when,
} from '../ui.tsx';

type Message = Schemas['SandboxMessage'];

function field(message: Message, key: 'title' | 'body'): string {
  const notification = message.message.notification as Record<string, unknown> | undefined;
  const value = notification?.[key];
  return typeof value === 'string' ? value : '';
}

function Bubble({ message }: { message: Message }) {
  const title = field(message, 'title');
  const body = field(message, 'body');
  return (
    <article class={`bubble bubble-${message.platform}`} aria-label={`${message.platform} notification`}>
      <header>
        <span class="app">{message.platform === 'web' ? 'localhost' : 'Your app'}</span>
        <span class="muted">{when(message.received_at)}</span>
      </header>
      <strong>{title || (body ? '' : '(data only)')}</strong>
      {body && <p>{body}</p>}
      <footer class="muted">
        {message.platform} · token …{String(message.message.token_suffix ?? '')} · emulator answered{' '}
        <span class={message.outcome === 'sent' ? 'ok' : 'bad'}>{message.outcome}</span>
        {message.notification_id && (
          <>
            {' · '}
            <Link href={`/notifications/${message.notification_id}`}>notification</Link>
          </>
        )}
      </footer>
    </article>
  );
}

/** Fault buttons for one device: the emulator answers its next sends with an error (PUT /sandbox/devices/{id}/fault). */
function Faults({ device, onChange }: { device: Schemas['Device']; onChange: () => void }) {
  const { api } = useSigned();
  const [state, setState] = useState('');
  const [action, run] = useAction();
  const set = (body: { fault: 'unregistered' | 'unavailable' | 'none'; count?: number }) =>
    run(async () => {
      const answer = await call(
        api.PUT('/api/v1/sandbox/devices/{id}/fault', { params: { path: { id: device.id } }, body }),
      );
      setState(
        answer.fault === null
          ? 'No fault.'
          : `${answer.fault}${answer.remaining === null ? ' on every send' : ` × ${answer.remaining}`}.`,
      );
      onChange();
    });
  const label = `${device.platform} …${device.token_suffix}`;
  return (
    <div class="actions">
      <button
        type="button"
        class="small"
        disabled={action.busy}
        aria-label={`503 burst for ${label}`}
        onClick={() => set({ fault: 'unavailable', count: 3 })}
      >
        503 × 3
      </button>
      <button
        type="button"
        class="small"
        disabled={action.busy}
        aria-label={`Unregister ${label}`}
        onClick={() => set({ fault: 'unregistered' })}
      >
        Unregistered
      </button>
      <button
        type="button"
        class="small"
        disabled={action.busy}
        aria-label={`Clear the fault of ${label}`}
        onClick={() => set({ fault: 'none' })}
      >
        Clear
      </button>
      {state && (
        <span class="muted" role="status">
          {state}
        </span>
      )}
      {action.error && <ErrorBox error={action.error} />}
    </div>
  );
}

function TestDevices({
  onAdded,
  onFault,
  round,
}: {
  onAdded: () => void;
  onFault: () => void;
  round: number;
}) {
  const { api } = useSigned();
  const [devices, reload] = useLoad(
    () => call(api.GET('/api/v1/devices', { params: { query: { limit: 10 } } })),
    [round],
  );
  const [action, run] = useAction();
  const add = (platform: 'android' | 'ios' | 'web', prefix = 'sandbox') =>
    run(async () => {
      const token = `${prefix}-${platform}-${crypto.randomUUID()}`;
      await call(api.POST('/api/v1/devices', { body: { platform, token, tags: ['dashboard-test'] } }));
      reload();
      onAdded();
    });
  return (
    <section aria-labelledby="devices-title">
      <h2 id="devices-title">Test devices</h2>
      <div class="actions">
        <button type="button" disabled={action.busy} onClick={() => add('android')}>
          Add an Android test device
        </button>
        <button type="button" disabled={action.busy} onClick={() => add('ios')}>
          Add an iOS test device
        </button>
        <button type="button" disabled={action.busy} onClick={() => add('web')}>
          Add a Web test device
        </button>
        <button type="button" disabled={action.busy} onClick={() => add('android', 'unregistered')}>
          Add a device FCM will reject (UNREGISTERED)
        </button>
      </div>
      {action.error && <ErrorBox error={action.error} />}
      <Listing
        load={devices}
        empty="No devices yet: add a test device, then send to “All devices” from Compose."
      >
        {(items) => (
          <>
            <p class="muted">
              Next: <Link href="/compose">compose a notification</Link> (“All devices” is preselected), then
              come back here. To see retries and deactivation, give a device a fault first.
            </p>
            <Table
              label="Test devices"
              columns={['Device', 'State', 'Fault (next sends)']}
              rows={items}
              row={(d) => (
                <tr key={d.id}>
                  <td>
                    <Link href={`/devices/${d.id}`}>
                      {d.platform} …{d.token_suffix}
                    </Link>
                  </td>
                  <td>
                    <Status value={d.is_active ? 'active' : 'inactive'} />
                    {d.deactivated_reason && <div class="muted">{d.deactivated_reason}</div>}
                  </td>
                  <td>
                    <Faults device={d} onChange={onFault} />
                  </td>
                </tr>
              )}
            />
          </>
        )}
      </Listing>
    </section>
  );
}

/** After a fault is set, the inbox and the devices reload every 2 s for a minute: retries and deactivation show. */
function useWatch(reload: () => void): [number, () => void, () => void] {
  const [until, setUntil] = useState(0);
  const [round, setRound] = useState(0);
  useEffect(() => {
    if (until === 0) return;
    const timer = setInterval(() => {
      if (Date.now() > until) {
        setUntil(0);
        return;
      }
      reload();
      setRound((n) => n + 1);
    }, 2000);
    return () => clearInterval(timer);
  }, [until, reload]);
  const refresh = () => {
    reload();
    setRound((n) => n + 1);
  };
  return [round, () => setUntil(Date.now() + 60_000), refresh];
}

export function SandboxPage() {
  const { api, sandbox } = useSigned();
  const paging = useCursor();
  const [inbox, reload] = useLoad(
    () => call(api.GET('/api/v1/sandbox/messages', { params: { query: paging.query(20) } })),
    [paging.cursor],
  );
  const [round, watch, refresh] = useWatch(reload);
  return (
    <Page
      title="Sandbox inbox"
      actions={
        <button type="button" onClick={refresh}>
          Refresh
        </button>
      }
    >
      {!sandbox && (
        <p class="muted">This server is not in sandbox mode: it sends to Firebase, not to the emulator.</p>
      )}
      <TestDevices onAdded={reload} onFault={watch} round={round} />
      <h2>Received by the emulator</h2>
      <Listing
        load={inbox}
        empty="The emulator has received nothing for this tenant's devices yet."
        paging={paging}
      >
        {(items) => (
          <div class="inbox">
            {items.map((m) => (
              <Bubble key={m.id} message={m} />
            ))}
          </div>
        )}
      </Listing>
    </Page>
  );
}
