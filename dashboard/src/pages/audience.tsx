/**
 * Audience: devices (platform, active, tag, profile filters), profiles (phone number, external id), topics with
 * their subscriber counts and subscribe / unsubscribe, and templates with a rendered preview.
 */
import type { ComponentChildren } from 'preact';
import { useState } from 'preact/hooks';
import type { paths } from '../../../packages/client/src/schema.d.ts';
import { ApiError, call, type Schemas } from '../api.ts';
import {
  Choice,
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

/** A search form of text fields: applied on submit, so typing does not fire a request per key. */
function SearchForm<K extends string>({
  fields,
  onSearch,
  children,
}: {
  fields: Record<K, string>;
  onSearch: (values: Record<K, string>) => void;
  children?: ComponentChildren;
}) {
  const keys = Object.keys(fields) as K[];
  const [draft, setDraft] = useState(Object.fromEntries(keys.map((k) => [k, ''])) as Record<K, string>);
  return (
    <form
      class="filters"
      aria-label="Search"
      onSubmit={(event) => {
        event.preventDefault();
        onSearch(draft);
      }}
    >
      {children}
      {keys.map((key) => (
        <label key={key}>
          {fields[key]}
          <input
            type="search"
            value={draft[key]}
            onInput={(e) => setDraft({ ...draft, [key]: e.currentTarget.value.trim() })}
          />
        </label>
      ))}
      <button type="submit">Search</button>
    </form>
  );
}

/** Drops empty values, so "any" is no query parameter at all. */
const given = <T extends Record<string, string>>(values: T): Partial<T> =>
  Object.fromEntries(Object.entries(values).filter(([, v]) => v !== '')) as Partial<T>;

type DeviceQuery = NonNullable<paths['/api/v1/devices']['get']['parameters']['query']>;

export function DevicesPage() {
  const { api } = useSigned();
  const [platform, setPlatform] = useState('');
  const [active, setActive] = useState('');
  const [search, setSearch] = useState({ tag: '', profile_id: '' });
  const paging = useCursor();
  const [page] = useLoad(() => {
    const query = { limit: 50, ...given({ platform, active, ...search }) } as DeviceQuery;
    if (paging.cursor) query.cursor = paging.cursor;
    return call(api.GET('/api/v1/devices', { params: { query } }));
  }, [platform, active, search, paging.cursor]);
  const choose = (set: (value: string) => void) => (value: string) => {
    paging.reset();
    set(value);
  };
  return (
    <Page title="Devices">
      <SearchForm
        fields={{ tag: 'Tag', profile_id: 'Profile id' }}
        onSearch={(values) => {
          paging.reset();
          setSearch(values);
        }}
      >
        <Choice
          label="Platform"
          value={platform}
          options={['android', 'ios', 'web']}
          onChange={choose(setPlatform)}
        />
        <Choice label="Active" value={active} options={['true', 'false']} onChange={choose(setActive)} />
      </SearchForm>
      <Loaded load={page}>
        {(data) =>
          data.items.length === 0 ? (
            <Empty>No devices match. Apps register theirs with POST /api/v1/devices.</Empty>
          ) : (
            <>
              <div class="table-wrap">
                <table>
                  <thead>
                    <tr>
                      <th scope="col">Token</th>
                      <th scope="col">Platform</th>
                      <th scope="col">State</th>
                      <th scope="col">Tags</th>
                      <th scope="col">Profile</th>
                      <th scope="col">Last seen</th>
                    </tr>
                  </thead>
                  <tbody>
                    {data.items.map((d) => (
                      <tr key={d.id}>
                        <td>
                          …{d.token_suffix}
                          <div class="muted">{d.id}</div>
                        </td>
                        <td>{d.platform}</td>
                        <td>
                          <Status value={d.is_active ? 'active' : 'inactive'} />
                          {d.deactivated_reason && <div class="muted">{d.deactivated_reason}</div>}
                        </td>
                        <td>{d.tags.join(', ') || '—'}</td>
                        <td class="muted">{d.profile_id ?? '—'}</td>
                        <td>{when(d.last_seen_at)}</td>
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
    </Page>
  );
}

export function ProfilesPage() {
  const { api } = useSigned();
  const [search, setSearch] = useState({ phone_number: '', external_id: '' });
  const paging = useCursor();
  const [page] = useLoad(
    () =>
      call(
        api.GET('/api/v1/profiles', {
          params: {
            query: { limit: 50, ...given(search), ...(paging.cursor ? { cursor: paging.cursor } : {}) },
          },
        }),
      ),
    [search, paging.cursor],
  );
  return (
    <Page title="Profiles">
      <SearchForm
        fields={{ phone_number: 'Phone number', external_id: 'External id' }}
        onSearch={(values) => {
          paging.reset();
          setSearch(values);
        }}
      />
      <Loaded load={page}>
        {(data) =>
          data.items.length === 0 ? (
            <Empty>No profiles match. A profile is created with POST /api/v1/profiles.</Empty>
          ) : (
            <>
              <div class="table-wrap">
                <table>
                  <thead>
                    <tr>
                      <th scope="col">Name</th>
                      <th scope="col">Phone number</th>
                      <th scope="col">External id</th>
                      <th scope="col">Created</th>
                    </tr>
                  </thead>
                  <tbody>
                    {data.items.map((p) => (
                      <tr key={p.id}>
                        <td>
                          {p.name ?? '—'}
                          <div class="muted">{p.id}</div>
                        </td>
                        <td>{p.phone_number ?? '—'}</td>
                        <td>{p.external_id ?? '—'}</td>
                        <td>{when(p.created_at)}</td>
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
    </Page>
  );
}

/** Ids typed one per line or separated by commas or spaces. */
const idsOf = (text: string): string[] => text.split(/[\s,]+/).filter(Boolean);

function TopicCard({ topic, onChange }: { topic: Schemas['Topic']; onChange: () => void }) {
  const { api } = useSigned();
  const [devices, setDevices] = useState('');
  const [profiles, setProfiles] = useState('');
  const [result, setResult] = useState('');
  const [action, run] = useAction();
  const act = (verb: 'subscribe' | 'unsubscribe') =>
    run(async () => {
      const request = {
        params: { path: { id: topic.id } },
        body: { device_ids: idsOf(devices), profile_ids: idsOf(profiles) },
      };
      if (verb === 'subscribe') {
        const answer = await call(api.POST('/api/v1/topics/{id}/subscribe', request));
        const missing = answer.not_found.device_ids.length + answer.not_found.profile_ids.length;
        setResult(
          `Subscribed ${answer.subscribed}, already subscribed ${answer.already_subscribed}, not found ${missing}.`,
        );
      } else {
        await call(api.POST('/api/v1/topics/{id}/unsubscribe', request));
        setResult('Unsubscribed.');
      }
      onChange();
    });
  return (
    <article class="card" aria-label={`Topic ${topic.name}`}>
      <h2>{topic.name}</h2>
      <p class="muted">
        {topic.subscriber_count} subscriber(s){topic.description ? ` · ${topic.description}` : ''}
      </p>
      <form class="inline-form" onSubmit={(event) => event.preventDefault()}>
        <label>
          Device ids
          <input type="text" value={devices} onInput={(e) => setDevices(e.currentTarget.value)} />
        </label>
        <label>
          Profile ids
          <input type="text" value={profiles} onInput={(e) => setProfiles(e.currentTarget.value)} />
        </label>
        <div class="actions">
          <button type="button" disabled={action.busy} onClick={() => act('subscribe')}>
            Subscribe
          </button>
          <button type="button" disabled={action.busy} onClick={() => act('unsubscribe')}>
            Unsubscribe
          </button>
        </div>
      </form>
      {result && (
        <p class="muted" role="status">
          {result}
        </p>
      )}
      {action.error && <ErrorBox error={action.error} />}
    </article>
  );
}

export function TopicsPage() {
  const { api } = useSigned();
  const paging = useCursor();
  const [page, reload] = useLoad(
    () =>
      call(
        api.GET('/api/v1/topics', {
          params: { query: { limit: 50, ...(paging.cursor ? { cursor: paging.cursor } : {}) } },
        }),
      ),
    [paging.cursor],
  );
  return (
    <Page title="Topics">
      <Loaded load={page}>
        {(data) =>
          data.items.length === 0 ? (
            <Empty>No topics yet. A topic is created with POST /api/v1/topics.</Empty>
          ) : (
            <>
              {data.items.map((topic) => (
                <TopicCard key={topic.id} topic={topic} onChange={reload} />
              ))}
              <Pager nextCursor={data.next_cursor} paging={paging} />
            </>
          )
        }
      </Loaded>
    </Page>
  );
}

function TemplateCard({ template }: { template: Schemas['Template'] }) {
  const { api } = useSigned();
  const [variables, setVariables] = useState('{}');
  const [rendered, setRendered] = useState<unknown>();
  const [action, run] = useAction();
  const preview = () =>
    run(async () => {
      let parsed: Record<string, string>;
      try {
        parsed = JSON.parse(variables) as Record<string, string>;
      } catch {
        throw new ApiError(
          0,
          'invalid_json',
          'Variables must be a JSON object, e.g. {"name": "Asha"}',
          undefined,
        );
      }
      const answer = await call(
        api.POST('/api/v1/templates/{id}/preview', {
          params: { path: { id: template.id } },
          body: { variables: parsed },
        }),
      );
      setRendered(answer.rendered);
    });
  return (
    <article class="card" aria-label={`Template ${template.name}`}>
      <h2>
        {template.name} {!template.is_active && <Status value="inactive" />}
      </h2>
      <p>
        <strong>{template.title ?? '—'}</strong> {template.body ?? ''}
      </p>
      <form
        class="inline-form"
        onSubmit={(event) => {
          event.preventDefault();
          preview();
        }}
      >
        <label>
          Variables (JSON)
          <input type="text" value={variables} onInput={(e) => setVariables(e.currentTarget.value)} />
        </label>
        <button type="submit" disabled={action.busy}>
          Preview
        </button>
      </form>
      {action.error && <ErrorBox error={action.error} />}
      {rendered !== undefined && <pre class="preview">{JSON.stringify(rendered, null, 2)}</pre>}
    </article>
  );
}

export function TemplatesPage() {
  const { api } = useSigned();
  const paging = useCursor();
  const [page] = useLoad(
    () =>
      call(
        api.GET('/api/v1/templates', {
          params: { query: { limit: 50, ...(paging.cursor ? { cursor: paging.cursor } : {}) } },
        }),
      ),
    [paging.cursor],
  );
  return (
    <Page title="Templates">
      <Loaded load={page}>
        {(data) =>
          data.items.length === 0 ? (
            <Empty>No templates yet. A template is created with POST /api/v1/templates.</Empty>
          ) : (
            <>
              {data.items.map((template) => (
                <TemplateCard key={template.id} template={template} />
              ))}
              <Pager nextCursor={data.next_cursor} paging={paging} />
            </>
          )
        }
      </Loaded>
    </Page>
  );
}
