/**
 * Compose and send: a target, content or a template with variables, the FCM message per platform (the preview
 * endpoint), then send now or schedule. The request is shown as curl as it is edited, so the page teaches the API.
 */
import { useState } from 'preact/hooks';
import { useLocation } from 'wouter-preact';
import type { paths } from '../../../packages/client/src/schema.d.ts';
import { call } from '../api.ts';
import { ErrorBox, Page, useAction, useLoad, useSigned } from '../ui.tsx';

type SendBody = paths['/api/v1/notify']['post']['requestBody']['content']['application/json'];
type ScheduleBody = paths['/api/v1/notify/schedule']['post']['requestBody']['content']['application/json'];
type PreviewBody = paths['/api/v1/notify/preview']['post']['requestBody']['content']['application/json'];
type Preview = paths['/api/v1/notify/preview']['post']['responses']['200']['content']['application/json'];

const PLATFORMS = ['android', 'ios', 'web'] as const;

const TARGETS = {
  all_devices: 'All devices',
  device_ids: 'Device ids',
  phone_number: 'Phone number',
  external_id: 'External id',
  profile_id: 'Profile id',
  topic: 'Topic',
} as const;
type Target = keyof typeof TARGETS;

const RECURRENCES = ['none', 'daily', 'weekly', 'monthly', 'cron'] as const;

interface Form {
  target: Target;
  targetValue: string;
  mode: 'content' | 'template';
  title: string;
  body: string;
  data: string;
  template: string;
  variables: string;
  when: 'now' | 'later';
  scheduledAt: string;
  recurrence: (typeof RECURRENCES)[number];
  cron: string;
  timezone: string;
}

/** A JSON object typed in a textarea, or a message saying what is wrong with it. */
function parseObject(text: string, field: string): Record<string, string> | undefined {
  if (!text.trim()) return undefined;
  const parsed: unknown = JSON.parse(text);
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    throw new Error(`${field} must be a JSON object such as {"key": "value"}`);
  return parsed as Record<string, string>;
}

function sendBody(form: Form): SendBody {
  const value = form.targetValue.trim();
  const target: Partial<SendBody> =
    form.target === 'all_devices'
      ? { all_devices: true }
      : form.target === 'device_ids'
        ? { device_ids: value.split(/[\s,]+/).filter(Boolean) }
        : { [form.target]: value };
  const content: Partial<SendBody> =
    form.mode === 'template'
      ? { template: form.template, variables: parseObject(form.variables, 'variables') }
      : {
          title: form.title || undefined,
          body: form.body || undefined,
          data: parseObject(form.data, 'data'),
        };
  return JSON.parse(JSON.stringify({ ...target, ...content })) as SendBody;
}

/** The content part of the send: what the preview endpoint renders. */
function previewBody(form: Form): PreviewBody {
  const { template, variables, title, body, data } = sendBody(form) as PreviewBody;
  return JSON.parse(JSON.stringify({ template, variables, title, body, data })) as PreviewBody;
}

/** The FCM message per platform for the content as it is now (POST /api/v1/notify/preview). */
function PreviewPanel({ form }: { form: Form }) {
  const { api } = useSigned();
  const [preview, setPreview] = useState<Preview | undefined>();
  const [platform, setPlatform] = useState<(typeof PLATFORMS)[number]>('android');
  const [action, run] = useAction();
  return (
    <section aria-labelledby="preview-title">
      <h2 id="preview-title">What each platform receives</h2>
      <div class="actions">
        <button
          type="button"
          disabled={action.busy}
          onClick={() =>
            run(async () => {
              setPreview(undefined);
              setPreview(await call(api.POST('/api/v1/notify/preview', { body: previewBody(form) })));
            })
          }
        >
          Preview
        </button>
        <div class="radios" role="radiogroup" aria-label="Platform">
          {PLATFORMS.map((p) => (
            <label key={p}>
              <input type="radio" name="platform" checked={platform === p} onChange={() => setPlatform(p)} />
              {p}
            </label>
          ))}
        </div>
      </div>
      {action.error && <ErrorBox error={action.error} />}
      {preview && <pre class="json preview">{JSON.stringify(preview.messages[platform], null, 2)}</pre>}
    </section>
  );
}

function scheduleBody(form: Form): ScheduleBody {
  return {
    ...sendBody(form),
    recurrence: form.recurrence,
    timezone: form.timezone,
    ...(form.scheduledAt ? { scheduled_at: new Date(form.scheduledAt).toISOString() } : {}),
    ...(form.recurrence === 'cron' ? { cron: form.cron } : {}),
  } as ScheduleBody;
}

function curlOf(path: string, body: unknown, clientId: string): string {
  const json = JSON.stringify(body, null, 2).replaceAll("'", "'\\''");
  return [
    `curl -s ${location.origin}${path}/ \\`,
    `  -H "Client-ID: ${clientId}" -H "Client-Token: $TOK" \\`,
    `  -H "Content-Type: application/json" -d '${json}'`,
  ].join('\n');
}

export function ComposePage() {
  const { api, credentials } = useSigned();
  const [, navigate] = useLocation();
  const [form, setForm] = useState<Form>({
    target: 'all_devices',
    targetValue: '',
    mode: 'content',
    title: 'Hello from the dashboard',
    body: 'My first notification',
    data: '',
    template: '',
    variables: '',
    when: 'now',
    scheduledAt: '',
    recurrence: 'none',
    cron: '',
    timezone: Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC',
  });
  const [templates] = useLoad(
    () => call(api.GET('/api/v1/templates', { params: { query: { limit: 200 } } })),
    [],
  );
  const [action, run] = useAction();
  const set = (patch: Partial<Form>) => setForm({ ...form, ...patch });
  const field = (key: keyof Form) => ({
    value: form[key],
    onInput: (e: { currentTarget: { value: string } }) => set({ [key]: e.currentTarget.value }),
  });

  let request: { path: string; body: unknown } | { problem: string };
  try {
    request =
      form.when === 'now'
        ? { path: '/api/v1/notify', body: sendBody(form) }
        : { path: '/api/v1/notify/schedule', body: scheduleBody(form) };
  } catch (error) {
    request = { problem: (error as Error).message };
  }

  const submit = () =>
    run(async () => {
      if (form.when === 'now') {
        const accepted = await call(api.POST('/api/v1/notify', { body: sendBody(form) }));
        navigate(`/notifications/${accepted.notification_id}`);
      } else {
        await call(api.POST('/api/v1/notify/schedule', { body: scheduleBody(form) }));
        navigate('/notifications');
      }
    });

  return (
    <Page title="Compose">
      <form
        class="compose"
        onSubmit={(event) => {
          event.preventDefault();
          void submit();
        }}
      >
        <fieldset>
          <legend>Who receives it</legend>
          <label>
            Target
            <select
              name="target"
              {...field('target')}
              onChange={(e) => set({ target: e.currentTarget.value as Target })}
            >
              {Object.entries(TARGETS).map(([key, label]) => (
                <option key={key} value={key}>
                  {label}
                </option>
              ))}
            </select>
          </label>
          {form.target !== 'all_devices' && (
            <label>
              {TARGETS[form.target]}
              <input name="target-value" required {...field('targetValue')} />
            </label>
          )}
        </fieldset>
        <fieldset>
          <legend>What it says</legend>
          <div class="radios" role="radiogroup" aria-label="Content">
            <label>
              <input
                type="radio"
                name="mode"
                checked={form.mode === 'content'}
                onChange={() => set({ mode: 'content' })}
              />
              Write it
            </label>
            <label>
              <input
                type="radio"
                name="mode"
                checked={form.mode === 'template'}
                onChange={() => set({ mode: 'template' })}
              />
              Use a template
            </label>
          </div>
          {form.mode === 'content' ? (
            <>
              <label>
                Title
                <input name="title" {...field('title')} />
              </label>
              <label>
                Body
                <textarea name="body" rows={3} {...field('body')} />
              </label>
              <label>
                Data (JSON object of strings, optional)
                <textarea name="data" rows={2} placeholder='{"screen": "home"}' {...field('data')} />
              </label>
            </>
          ) : (
            <>
              <label>
                Template
                <select
                  name="template"
                  {...field('template')}
                  onChange={(e) => set({ template: e.currentTarget.value })}
                >
                  <option value="">Choose…</option>
                  {templates.state === 'ready' &&
                    templates.data.items.map((t) => (
                      <option key={t.id} value={t.name}>
                        {t.name}
                      </option>
                    ))}
                </select>
              </label>
              {templates.state === 'ready' && templates.data.items.length === 0 && (
                <p class="empty">This tenant has no templates yet.</p>
              )}
              <label>
                Variables (JSON object)
                <textarea name="variables" rows={2} placeholder='{"name": "Asha"}' {...field('variables')} />
              </label>
            </>
          )}
        </fieldset>
        <fieldset>
          <legend>When</legend>
          <div class="radios" role="radiogroup" aria-label="When">
            <label>
              <input
                type="radio"
                name="when"
                checked={form.when === 'now'}
                onChange={() => set({ when: 'now' })}
              />
              Now
            </label>
            <label>
              <input
                type="radio"
                name="when"
                checked={form.when === 'later'}
                onChange={() => set({ when: 'later' })}
              />
              Schedule
            </label>
          </div>
          {form.when === 'later' && (
            <>
              <label>
                First at (your local time)
                <input type="datetime-local" name="scheduled-at" {...field('scheduledAt')} />
              </label>
              <label>
                Repeat
                <select
                  name="recurrence"
                  {...field('recurrence')}
                  onChange={(e) => set({ recurrence: e.currentTarget.value as Form['recurrence'] })}
                >
                  {RECURRENCES.map((r) => (
                    <option key={r} value={r}>
                      {r}
                    </option>
                  ))}
                </select>
              </label>
              {form.recurrence === 'cron' && (
                <label>
                  Cron (5 fields)
                  <input name="cron" placeholder="0 9 * * MON-FRI" {...field('cron')} />
                </label>
              )}
              <label>
                Time zone
                <input name="timezone" {...field('timezone')} />
              </label>
            </>
          )}
        </fieldset>
        <div class="actions">
          <button type="submit" class="primary" disabled={action.busy || 'problem' in request}>
            {form.when === 'now' ? 'Send now' : 'Schedule'}
          </button>
        </div>
        {action.error && <ErrorBox error={action.error} />}
      </form>
      {!('problem' in request) && <PreviewPanel form={form} />}
      <section aria-labelledby="curl-title">
        <h2 id="curl-title">The same request with curl</h2>
        {'problem' in request ? (
          <p class="error">{request.problem}</p>
        ) : (
          <pre class="curl">{curlOf(request.path, request.body, credentials.clientId)}</pre>
        )}
      </section>
    </Page>
  );
}
