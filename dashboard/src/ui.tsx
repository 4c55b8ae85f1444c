/** Shared pieces of every page: loading / error / empty states, the async-load hook, tables and badges. */
import type { ComponentChildren } from 'preact';
import { createContext } from 'preact';
import { useCallback, useContext, useEffect, useId, useState } from 'preact/hooks';
import { type Api, ApiError } from './api.ts';
import type { Credentials } from './session.ts';

/** The signed-in client and its API; every page below the sign-in has one. */
export interface Signed {
  credentials: Credentials;
  api: Api;
  /** Whether the server runs the FCM emulator (GET /api/v1/sandbox/messages exists). */
  sandbox: boolean;
}
export const SignedContext = createContext<Signed | undefined>(undefined);

export function useSigned(): Signed {
  const signed = useContext(SignedContext);
  if (!signed) throw new Error('useSigned outside a signed-in page');
  return signed;
}

export type Load<T> =
  | { state: 'loading' }
  | { state: 'error'; error: ApiError }
  | { state: 'ready'; data: T };

const asApiError = (error: unknown): ApiError =>
  error instanceof ApiError ? error : new ApiError(0, 'client_error', String(error), undefined);

/** Runs `load` when `key` changes; `reload` runs it again. */
export function useLoad<T>(load: () => Promise<T>, key: unknown[]): [Load<T>, () => void] {
  const [result, setResult] = useState<Load<T>>({ state: 'loading' });
  const [round, setRound] = useState(0);
  useEffect(() => {
    let current = true;
    setResult((previous) => (previous.state === 'ready' ? previous : { state: 'loading' }));
    load().then(
      (data) => current && setResult({ state: 'ready', data }),
      (error: unknown) => current && setResult({ state: 'error', error: asApiError(error) }),
    );
    return () => {
      current = false;
    };
  }, [...key, round]);
  return [result, useCallback(() => setRound((n) => n + 1), [])];
}

/** An action's state: running, its error, and a runner that catches into it. */
export function useAction(): [
  { busy: boolean; error: ApiError | undefined },
  (action: () => Promise<void>) => Promise<void>,
] {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError | undefined>();
  const run = useCallback(async (action: () => Promise<void>) => {
    setBusy(true);
    setError(undefined);
    try {
      await action();
    } catch (caught) {
      setError(asApiError(caught));
    } finally {
      setBusy(false);
    }
  }, []);
  return [{ busy, error }, run];
}

export function ErrorBox({ error }: { error: ApiError }) {
  return (
    <div class="error" role="alert">
      <strong>{error.message}</strong>
      <div class="muted">
        {error.code}
        {error.status ? ` · HTTP ${error.status}` : ''}
        {error.requestId ? ` · request id ${error.requestId}` : ''}
      </div>
      {error.details.length > 0 && (
        <ul>
          {error.details.map((d) => (
            <li key={`${d.field}:${d.message}`}>{d.field ? `${d.field}: ${d.message}` : d.message}</li>
          ))}
        </ul>
      )}
    </div>
  );
}

/** How an action ended: what it did (a muted status line, read out by screen readers), or its error. */
export function Outcome({ said, error }: { said: ComponentChildren; error: ApiError | undefined }) {
  return (
    <>
      {said && (
        <p class="muted" role="status">
          {said}
        </p>
      )}
      {error && <ErrorBox error={error} />}
    </>
  );
}

/** Renders a Load: a spinner line, the error, or `children(data)`. */
export function Loaded<T>({ load, children }: { load: Load<T>; children: (data: T) => ComponentChildren }) {
  if (load.state === 'loading')
    return (
      <p class="loading" aria-live="polite">
        Loading…
      </p>
    );
  if (load.state === 'error') return <ErrorBox error={load.error} />;
  return <>{children(load.data)}</>;
}

export function Empty({ children }: { children: ComponentChildren }) {
  return <p class="empty">{children}</p>;
}

/** A definition list of a thing's facts (id, status, times): `Fact`s, each a label and its value. */
export function Facts({ children }: { children: ComponentChildren }) {
  return <dl class="facts">{children}</dl>;
}

export function Fact({ label, children }: { label: string; children: ComponentChildren }) {
  return (
    <>
      <dt>{label}</dt>
      <dd>{children}</dd>
    </>
  );
}

export function Status({ value }: { value: string }) {
  return <span class={`badge badge-${value}`}>{value.replace('_', ' ')}</span>;
}

export const when = (iso: string | null | undefined): string => (iso ? new Date(iso).toLocaleString() : '—');

export function Page({
  title,
  actions,
  children,
}: {
  title: string;
  actions?: ComponentChildren;
  children: ComponentChildren;
}) {
  useEffect(() => {
    document.title = `${title} · fcm-server`;
  }, [title]);
  return (
    <section class="page">
      <header class="page-head">
        <h1 tabIndex={-1}>{title}</h1>
        {actions && <div class="actions">{actions}</div>}
      </header>
      {children}
    </section>
  );
}

/** "Next page" for cursor-paged lists: the cursors walked so far, so "Previous" can go back. */
export function useCursor(): {
  cursor: string | undefined;
  next: (cursor: string) => void;
  previous: (() => void) | undefined;
  reset: () => void;
  /** The list request's query for the page shown: `limit` items, from the cursor (none on the first page). */
  query: (limit: number) => { limit: number; cursor?: string };
} {
  const [stack, setStack] = useState<string[]>([]);
  const cursor = stack.at(-1);
  return {
    cursor,
    next: (cursor) => setStack((s) => [...s, cursor]),
    previous: stack.length > 0 ? () => setStack((s) => s.slice(0, -1)) : undefined,
    reset: () => setStack([]),
    query: (limit) => (cursor ? { limit, cursor } : { limit }),
  };
}

export function Pager({
  nextCursor,
  paging,
}: {
  nextCursor: string | null;
  paging: ReturnType<typeof useCursor>;
}) {
  if (!nextCursor && !paging.previous) return null;
  return (
    <nav class="pager" aria-label="Pages">
      <button type="button" disabled={!paging.previous} onClick={paging.previous}>
        ← Previous
      </button>
      <button type="button" disabled={!nextCursor} onClick={() => nextCursor && paging.next(nextCursor)}>
        Next →
      </button>
    </nav>
  );
}

/** One page of a cursor-paged list, as every list endpoint answers. */
export interface ListPage<T> {
  items: T[];
  next_cursor: string | null;
}

/**
 * Renders a loaded list: the spinner or the error as Loaded does, `empty` when it has no items, else
 * `children(items)` and, given `paging`, the pager below them.
 */
export function Listing<T>({
  load,
  empty,
  paging,
  children,
}: {
  load: Load<ListPage<T>>;
  empty: ComponentChildren;
  paging?: ReturnType<typeof useCursor>;
  children: (items: T[]) => ComponentChildren;
}) {
  return (
    <Loaded load={load}>
      {(data) =>
        data.items.length === 0 ? (
          <Empty>{empty}</Empty>
        ) : (
          <>
            {children(data.items)}
            {paging && <Pager nextCursor={data.next_cursor} paging={paging} />}
          </>
        )
      }
    </Loaded>
  );
}

/** A column's heading: its text, or `{ hidden }` for one only screen readers say (a column of checkboxes). */
export type Column = string | { hidden: string };

interface TableShape<T> {
  /** The table's accessible name; a page's only table goes without. */
  label?: string;
  columns: readonly Column[];
  /** One `<tr>` with its key. */
  row: (item: T) => ComponentChildren;
}

/** A table in its scrolling wrapper (narrow screens scroll it sideways, not the page). */
export function Table<T>({ label, columns, rows, row }: TableShape<T> & { rows: readonly T[] }) {
  return (
    <div class="table-wrap">
      <table aria-label={label}>
        <thead>
          <tr>
            {columns.map((column) =>
              typeof column === 'string' ? (
                <th key={column} scope="col">
                  {column}
                </th>
              ) : (
                <th key={column.hidden} scope="col">
                  <span class="visually-hidden">{column.hidden}</span>
                </th>
              ),
            )}
          </tr>
        </thead>
        <tbody>{rows.map((item) => row(item))}</tbody>
      </table>
    </div>
  );
}

/** A loaded list as a Table, with the states of a Listing: loading, error, `empty`, and the pager. */
export function DataTable<T>({
  load,
  empty,
  paging,
  ...table
}: TableShape<T> & {
  load: Load<ListPage<T>>;
  empty: ComponentChildren;
  paging?: ReturnType<typeof useCursor>;
}) {
  return (
    <Listing load={load} empty={empty} paging={paging}>
      {(items) => <Table {...table} rows={items} />}
    </Listing>
  );
}

/** A labelled select whose first option, "any", is the empty value. */
export function Choice({
  label,
  value,
  options,
  onChange,
}: {
  label: string;
  value: string;
  options: readonly string[];
  onChange: (value: string) => void;
}) {
  return (
    <label>
      {label}
      <select value={value} onChange={(e) => onChange(e.currentTarget.value)}>
        <option value="">any</option>
        {options.map((o) => (
          <option key={o} value={o}>
            {o}
          </option>
        ))}
      </select>
    </label>
  );
}

/** One field of a FormCard: a text input, or a select when `options` is given (its first option is the default). */
export interface FormField {
  label: string;
  options?: readonly string[];
  required?: boolean;
  placeholder?: string;
  /** A textarea (JSON, longer text). */
  long?: boolean;
}

/**
 * A titled form that creates or changes something through the API: `submit` gets the values as typed and
 * returns what to say (or throws an ApiError, shown as our error format). Cleared after success.
 */
export function FormCard<K extends string>({
  title,
  fields,
  submitLabel,
  submit,
}: {
  title: string;
  fields: Record<K, FormField>;
  submitLabel: string;
  submit: (values: Record<K, string>) => Promise<ComponentChildren>;
}) {
  const keys = Object.keys(fields) as K[];
  const initial = () =>
    Object.fromEntries(keys.map((k) => [k, fields[k].options?.[0] ?? ''])) as Record<K, string>;
  const [values, setValues] = useState(initial);
  const [said, setSaid] = useState<ComponentChildren>(null);
  const [action, run] = useAction();
  const base = useId();
  const set = (key: K) => (e: { currentTarget: { value: string } }) =>
    setValues({ ...values, [key]: e.currentTarget.value });
  return (
    <details class="card">
      <summary>{title}</summary>
      <form
        class="inline-form"
        aria-label={title}
        onSubmit={(event) => {
          event.preventDefault();
          void run(async () => {
            setSaid(null);
            setSaid(await submit(values));
            setValues(initial());
          });
        }}
      >
        {keys.map((key) => {
          const field = fields[key];
          const id = `${base}-${key}`;
          return (
            <label key={key} htmlFor={id}>
              {field.label}
              {field.options ? (
                <select id={id} value={values[key]} onChange={set(key)}>
                  {field.options.map((o) => (
                    <option key={o} value={o}>
                      {o}
                    </option>
                  ))}
                </select>
              ) : field.long ? (
                <textarea
                  id={id}
                  rows={3}
                  required={field.required}
                  placeholder={field.placeholder}
                  value={values[key]}
                  onInput={set(key)}
                />
              ) : (
                <input
                  id={id}
                  type="text"
                  required={field.required}
                  placeholder={field.placeholder}
                  value={values[key]}
                  onInput={set(key)}
                />
              )}
            </label>
          );
        })}
        <button type="submit" class="primary" disabled={action.busy}>
          {submitLabel}
        </button>
      </form>
      {said && (
        <div class="muted" role="status">
          {said}
        </div>
      )}
      {action.error && <ErrorBox error={action.error} />}
    </details>
  );
}

/** Text typed as JSON into a form, or our error format naming the field. */
export function parseJson(text: string, field: string): Record<string, unknown> | undefined {
  if (text.trim() === '') return undefined;
  try {
    const value: unknown = JSON.parse(text);
    if (typeof value === 'object' && value !== null && !Array.isArray(value))
      return value as Record<string, unknown>;
  } catch {
    // reported below
  }
  throw new ApiError(0, 'invalid_json', `${field} must be a JSON object, e.g. {"name": "Asha"}`, undefined);
}
