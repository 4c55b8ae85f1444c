/**
 * Audience: devices (platform, active, tag, profile filters), profiles (phone number, external id), topics with
 * their subscriber counts and subscribe / unsubscribe, and templates with a rendered preview.
 */
import type { ComponentChildren } from 'preact';
import { useState } from 'preact/hooks';
import { Link } from 'wouter-preact';
import type { paths } from '../../../packages/client/src/schema.d.ts';
import { ApiError, call, type Schemas } from '../api.ts';
import {
  Choice,
  DataTable,
  ErrorBox,
  FormCard,
  Listing,
  Outcome,
  Page,
  Status,
  useAction,
  useCursor,
  useLoad,
  useSigned,
  when,
} from '../ui.tsx';
import { tagsOf } from './device.tsx';

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

const DEVICE_SEARCH = {
  token_suffix: 'Token ends with',
  phone_number: 'Phone number',
  external_id: 'External id',
  tag: 'Tag',
  profile_id: 'Profile id',
};

/**
 * The devices API filters by profile id: a phone number or external id is first looked up as a profile (GET
 * /profiles), the way a person would. Undefined when no profile has it (so no device can match).
 */
async function profileIdFor(api: ReturnType<typeof useSigned>['api'], search: Record<string, string>) {
  if (!search.phone_number && !search.external_id) return search.profile_id ?? '';
  const query = given({ phone_number: search.phone_number ?? '', external_id: search.external_id ?? '' });
  const profiles = await call(api.GET('/api/v1/profiles', { params: { query: { limit: 1, ...query } } }));
  return profiles.items[0]?.id;
}

function RegisterDevice({ onDone }: { onDone: () => void }) {
  const { api } = useSigned();
  return (
    <FormCard
      title="Register a device"
      submitLabel="Register"
      fields={{
        platform: { label: 'Platform', options: ['android', 'ios', 'web'] },
        token: { label: 'FCM token', required: true, placeholder: 'from the app (8+ characters)' },
        phone_number: { label: 'Phone number (optional)', placeholder: '+255712345678' },
        external_id: { label: 'External id (optional)' },
        tags: { label: 'Tags (optional)', placeholder: 'beta, vip' },
      }}
      submit={async (v) => {
        const device = await call(
          api.POST('/api/v1/devices', {
            body: {
              platform: v.platform as 'android' | 'ios' | 'web',
              token: v.token,
              ...given({ phone_number: v.phone_number, external_id: v.external_id }),
              tags: tagsOf(v.tags),
            },
          }),
        );
        onDone();
        return (
          <>
            Registered:{' '}
            <Link href={`/devices/${device.id}`}>
              {device.platform} …{device.token_suffix}
            </Link>
          </>
        );
      }}
    />
  );
}

export function DevicesPage() {
  const { api } = useSigned();
  const [platform, setPlatform] = useState('');
  const [active, setActive] = useState('');
  const [search, setSearch] = useState<Record<string, string>>({});
  const paging = useCursor();
  const [page, reload] = useLoad(async () => {
    const profileId = await profileIdFor(api, search);
    if (profileId === undefined) return { items: [], next_cursor: null };
    const { tag = '', token_suffix = '' } = search;
    const filters = given({ platform, active, tag, token_suffix, profile_id: profileId });
    const query = { limit: 50, ...filters } as DeviceQuery;
    if (paging.cursor) query.cursor = paging.cursor;
    return call(api.GET('/api/v1/devices', { params: { query } }));
  }, [platform, active, search, paging.cursor]);
  const choose = (set: (value: string) => void) => (value: string) => {
    paging.reset();
    set(value);
  };
  return (
    <Page title="Devices">
      <RegisterDevice onDone={reload} />
      <SearchForm
        fields={DEVICE_SEARCH}
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
      <DataTable
        load={page}
        empty="No devices match. Register one above, or apps register theirs with POST /api/v1/devices."
        paging={paging}
        label="Devices"
        columns={['Token', 'Platform', 'State', 'Tags', 'Profile', 'Last seen']}
        row={(d) => (
          <tr key={d.id}>
            <td>
              <Link href={`/devices/${d.id}`}>…{d.token_suffix}</Link>
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
        )}
      />
    </Page>
  );
}

/** The profile fields as typed: empty text is "none" (null), so an edit can clear a field. */
const profileBody = (v: Record<'phone_number' | 'external_id' | 'name', string>) => ({
  phone_number: v.phone_number || null,
  external_id: v.external_id || null,
  name: v.name || null,
});

const PROFILE_FIELDS = {
  phone_number: { label: 'Phone number', placeholder: '+255712345678' },
  external_id: { label: 'External id', placeholder: 'user-1234' },
  name: { label: 'Name' },
};

function ProfileForms({ onDone }: { onDone: () => void }) {
  const { api } = useSigned();
  return (
    <>
      <FormCard
        title="Create a profile"
        submitLabel="Create"
        fields={PROFILE_FIELDS}
        submit={async (v) => {
          const profile = await call(api.POST('/api/v1/profiles', { body: profileBody(v) }));
          onDone();
          return `Created profile ${profile.id}.`;
        }}
      />
      <FormCard
        title="Edit a profile"
        submitLabel="Save"
        fields={{ id: { label: 'Profile id', required: true }, ...PROFILE_FIELDS }}
        submit={async ({ id, ...v }) => {
          await call(api.PUT('/api/v1/profiles/{id}', { params: { path: { id } }, body: profileBody(v) }));
          onDone();
          return 'Saved.';
        }}
      />
    </>
  );
}

export function ProfilesPage() {
  const { api } = useSigned();
  const [search, setSearch] = useState({ phone_number: '', external_id: '' });
  const paging = useCursor();
  const [page, reload] = useLoad(
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
      <ProfileForms onDone={reload} />
      <SearchForm
        fields={{ phone_number: 'Phone number', external_id: 'External id' }}
        onSearch={(values) => {
          paging.reset();
          setSearch(values);
        }}
      />
      <DataTable
        load={page}
        empty="No profiles match. Create one above (POST /api/v1/profiles)."
        paging={paging}
        label="Profiles"
        columns={['Name', 'Phone number', 'External id', 'Created']}
        row={(p) => (
          <tr key={p.id}>
            <td>
              {p.name ?? '—'}
              <div class="muted">{p.id}</div>
            </td>
            <td>{p.phone_number ?? '—'}</td>
            <td>{p.external_id ?? '—'}</td>
            <td>{when(p.created_at)}</td>
          </tr>
        )}
      />
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
        <code>{topic.id}</code>
      </p>
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
      <Outcome said={result} error={action.error} />
    </article>
  );
}

export function TopicsPage() {
  const { api } = useSigned();
  const paging = useCursor();
  const [page, reload] = useLoad(
    () => call(api.GET('/api/v1/topics', { params: { query: paging.query(50) } })),
    [paging.cursor],
  );
  return (
    <Page title="Topics">
      <FormCard
        title="Create a topic"
        submitLabel="Create"
        fields={{
          name: { label: 'Name', required: true, placeholder: 'sports.football' },
          description: { label: 'Description (optional)' },
        }}
        submit={async (v) => {
          const topic = await call(
            api.POST('/api/v1/topics', { body: { name: v.name, description: v.description || null } }),
          );
          reload();
          return `Created topic ${topic.name}.`;
        }}
      />
      <Listing load={page} empty="No topics yet. Create one above (POST /api/v1/topics)." paging={paging}>
        {(items) => items.map((topic) => <TopicCard key={topic.id} topic={topic} onChange={reload} />)}
      </Listing>
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
      <p class="muted">
        <code>{template.id}</code>
      </p>
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

const TEMPLATE_FIELDS = {
  name: { label: 'Name', required: true, placeholder: 'order_confirmed' },
  title: { label: 'Title', placeholder: 'Order {{order_id}} confirmed' },
  body: { label: 'Body', long: true, placeholder: 'Hi {{name}}, your order has been confirmed.' },
};

/** A template as typed: name, title and body (PUT replaces, so an edit sends them all). */
const templateBody = (v: Record<'name' | 'title' | 'body', string>) => ({
  name: v.name,
  ...(v.title ? { title: v.title } : {}),
  ...(v.body ? { body: v.body } : {}),
});

function TemplateForms({ onDone }: { onDone: () => void }) {
  const { api } = useSigned();
  return (
    <>
      <FormCard
        title="Create a template"
        submitLabel="Create"
        fields={TEMPLATE_FIELDS}
        submit={async (v) => {
          const template = await call(api.POST('/api/v1/templates', { body: templateBody(v) }));
          onDone();
          return `Created template ${template.name}: fill its variables below to preview it.`;
        }}
      />
      <FormCard
        title="Edit a template (replaces its content)"
        submitLabel="Save"
        fields={{ id: { label: 'Template id', required: true }, ...TEMPLATE_FIELDS }}
        submit={async ({ id, ...v }) => {
          await call(api.PUT('/api/v1/templates/{id}', { params: { path: { id } }, body: templateBody(v) }));
          onDone();
          return 'Saved.';
        }}
      />
    </>
  );
}

export function TemplatesPage() {
  const { api } = useSigned();
  const paging = useCursor();
  const [page, reload] = useLoad(
    () => call(api.GET('/api/v1/templates', { params: { query: paging.query(50) } })),
    [paging.cursor],
  );
  return (
    <Page title="Templates">
      <TemplateForms onDone={reload} />
      <Listing
        load={page}
        empty="No templates yet. Create one above (POST /api/v1/templates)."
        paging={paging}
      >
        {(items) => items.map((template) => <TemplateCard key={template.id} template={template} />)}
      </Listing>
    </Page>
  );
}
