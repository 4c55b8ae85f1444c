/**
 * Sandbox inbox: what the in-process FCM emulator received for this tenant's devices, drawn as the
 * notification would look on Android, iOS and Web. Test devices are added here through the devices API; an
 * `unregistered-…` token makes the emulator answer UNREGISTERED, so the device is deactivated on send.
 */
import { Link } from 'wouter-preact';
import { call, type Schemas } from '../api.ts';
import {
  Empty,
  ErrorBox,
  Loaded,
  Page,
  Pager,
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

function TestDevices({ onAdded }: { onAdded: () => void }) {
  const { api } = useSigned();
  const [devices, reload] = useLoad(
    () => call(api.GET('/api/v1/devices', { params: { query: { limit: 10 } } })),
    [],
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
      <Loaded load={devices}>
        {(page) =>
          page.items.length === 0 ? (
            <Empty>No devices yet: add a test device, then send to “All devices” from Compose.</Empty>
          ) : (
            <p class="muted">
              {page.items.length}
              {page.next_cursor ? '+' : ''} device(s), e.g.{' '}
              {page.items
                .slice(0, 3)
                .map((d) => `${d.platform} …${d.token_suffix}${d.is_active ? '' : ' (inactive)'}`)
                .join(', ')}
              . <Link href="/compose">Compose a notification</Link>
            </p>
          )
        }
      </Loaded>
    </section>
  );
}

export function SandboxPage() {
  const { api, sandbox } = useSigned();
  const paging = useCursor();
  const [inbox, reload] = useLoad(
    () =>
      call(
        api.GET('/api/v1/sandbox/messages', {
          params: { query: { limit: 20, ...(paging.cursor ? { cursor: paging.cursor } : {}) } },
        }),
      ),
    [paging.cursor],
  );
  return (
    <Page
      title="Sandbox inbox"
      actions={
        <button type="button" onClick={reload}>
          Refresh
        </button>
      }
    >
      {!sandbox && (
        <p class="muted">This server is not in sandbox mode: it sends to Firebase, not to the emulator.</p>
      )}
      <TestDevices onAdded={reload} />
      <h2>Received by the emulator</h2>
      <Loaded load={inbox}>
        {(page) =>
          page.items.length === 0 ? (
            <Empty>The emulator has received nothing for this tenant's devices yet.</Empty>
          ) : (
            <>
              <div class="inbox">
                {page.items.map((m) => (
                  <Bubble key={m.id} message={m} />
                ))}
              </div>
              <Pager nextCursor={page.next_cursor} paging={paging} />
            </>
          )
        }
      </Loaded>
    </Page>
  );
}
