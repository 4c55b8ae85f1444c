/** Live: the tenant's events as they happen, from the WebSocket event stream, filtered by type on the server. */
import { useEffect, useState } from 'preact/hooks';
import { Link } from 'wouter-preact';
import type { paths } from '../../../packages/client/src/schema.d.ts';
import { openEventStream, type StreamEvent } from '../api.ts';
import { Empty, Page, useSigned, when } from '../ui.tsx';

type EventType = NonNullable<
  paths['/api/v1/webhooks']['post']['requestBody']['content']['application/json']['event_types']
>[number];
/** Every type the stream carries (webhook.test goes only to the webhook it tests). */
const TYPES: EventType[] = [
  'notification.sent',
  'notification.failed',
  'notification.delivered',
  'notification.read',
  'notification.completed',
  'notification.expired',
  'notification.skipped',
  'notification.cancelled',
  'device.registered',
  'device.deactivated',
  'webhook.disabled',
];
/** The newest events kept on screen. */
const KEEP = 200;

type Connection = { state: 'connecting' | 'live' } | { state: 'closed'; code: number; reason: string };

export function LivePage() {
  const { credentials } = useSigned();
  const [chosen, setChosen] = useState<Set<EventType>>(new Set());
  const [events, setEvents] = useState<StreamEvent[]>([]);
  const [connection, setConnection] = useState<Connection>({ state: 'connecting' });
  const [round, setRound] = useState(0);
  const types = [...chosen].sort().join(',');
  useEffect(() => {
    setConnection({ state: 'connecting' });
    const socket = openEventStream(credentials, types ? { types } : {});
    socket.onopen = () => setConnection({ state: 'live' });
    socket.onmessage = (message) => {
      const event = JSON.parse(String(message.data)) as StreamEvent;
      setEvents((previous) => [event, ...previous].slice(0, KEEP));
    };
    socket.onclose = (close) => setConnection({ state: 'closed', code: close.code, reason: close.reason });
    return () => socket.close();
  }, [credentials, types, round]);
  const toggle = (type: EventType) => {
    const next = new Set(chosen);
    if (next.has(type)) next.delete(type);
    else next.add(type);
    setChosen(next);
  };
  return (
    <Page
      title="Live"
      actions={
        <button type="button" onClick={() => setEvents([])}>
          Clear
        </button>
      }
    >
      <p role="status" class={connection.state === 'closed' ? 'bad' : 'muted'}>
        {connection.state === 'connecting' && 'Connecting to the event stream…'}
        {connection.state === 'live' &&
          `Live: ${types ? `only ${types.replaceAll(',', ', ')}` : 'every event'}.`}
        {connection.state === 'closed' &&
          `The event stream closed (code ${connection.code}${connection.reason ? `: ${connection.reason}` : ''}).`}
      </p>
      {connection.state === 'closed' && (
        <button type="button" onClick={() => setRound((n) => n + 1)}>
          Reconnect
        </button>
      )}
      <fieldset class="filters">
        <legend>Types (none checked: all)</legend>
        {TYPES.map((type) => (
          <label key={type} class="check">
            <input type="checkbox" checked={chosen.has(type)} onChange={() => toggle(type)} /> {type}
          </label>
        ))}
      </fieldset>
      {events.length === 0 ? (
        <Empty>
          No events yet. Send a notification or register a device, and it shows here as it happens.
        </Empty>
      ) : (
        <ol class="feed" aria-label="Events">
          {events.map((event) => (
            <li key={event.id}>
              <strong>{event.type}</strong> <span class="muted">{when(event.created_at)}</span>
              {event.notification_id && (
                <>
                  {' '}
                  <Link href={`/notifications/${event.notification_id}`}>notification</Link>
                </>
              )}
              <pre>{JSON.stringify(event.data)}</pre>
            </li>
          ))}
        </ol>
      )}
    </Page>
  );
}
