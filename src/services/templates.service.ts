/** Notification templates: the tenant's reusable content with {{placeholders}}, previewed and used by sends. */
import type { Executor } from '../db/client.ts';
import {
  deleteTemplate as deleteTemplateRow,
  findTemplate,
  insertTemplate,
  listTemplates,
  type TemplateFilter,
  type TemplateRow,
  type TemplateValues,
  updateTemplate,
} from '../db/templates.repository.ts';
import { AppError, type ErrorDetail, invalid, notFound } from '../lib/errors.ts';
import { UUID_PATTERN, uuidv7 } from '../lib/ids.ts';
import {
  type LocaleVariant,
  type PlatformOverrides,
  pickVariant,
  renderTemplate,
  type TemplateContent,
  type TemplateOptions,
  templateProblems,
  templateVariables,
} from '../templates/engine.ts';
import type { ServiceDeps } from './deps.ts';
import { type PageView, pageView } from './views.ts';

export interface TemplateView {
  id: string;
  name: string;
  description: string | null;
  title: string | null;
  body: string | null;
  data: Record<string, string>;
  options: TemplateOptions;
  platform_overrides: PlatformOverrides;
  locales: Record<string, LocaleVariant>;
  /** Every placeholder name used anywhere in the template, sorted. */
  variables: string[];
  is_active: boolean;
  created_at: string;
  updated_at: string;
}

export function toView(row: TemplateRow): TemplateView {
  return {
    id: row.id,
    name: row.name,
    description: row.description,
    title: row.title,
    body: row.body,
    data: row.data,
    options: row.options,
    platform_overrides: row.platformOverrides,
    locales: row.locales,
    variables: templateVariables(row),
    is_active: row.isActive,
    created_at: row.createdAt.toISOString(),
    updated_at: row.updatedAt.toISOString(),
  };
}

/** A template as the API accepts it (shape and sizes already checked by the route schema). */
export interface TemplateInput {
  name: string;
  description?: string | undefined;
  title?: string | undefined;
  body?: string | undefined;
  data?: Record<string, string> | undefined;
  options?: TemplateOptions | undefined;
  platform_overrides?: PlatformOverrides | undefined;
  locales?: Record<string, LocaleVariant> | undefined;
  is_active?: boolean | undefined;
}

const nameTaken = (name: string) =>
  new AppError('template_exists', 409, `a template named "${name}" already exists`, [
    { field: 'name', message: 'already in use' },
  ]);

const normalizeTag = (tag: string) => tag.toLowerCase().replaceAll('_', '-');

/** The columns for an input, or a 422 naming every problem: placeholder syntax, content, duplicate locales. */
function toValues(input: TemplateInput): TemplateValues {
  const values: TemplateValues = {
    name: input.name,
    description: input.description ?? null,
    title: input.title ?? null,
    body: input.body ?? null,
    data: input.data ?? {},
    options: input.options ?? {},
    platformOverrides: input.platform_overrides ?? {},
    locales: input.locales ?? {},
    isActive: input.is_active ?? true,
  };
  const details: ErrorDetail[] = templateProblems(values);
  if (values.title === null && values.body === null && !values.options.silent) {
    details.push({
      field: 'title',
      message: 'a template needs a title or a body, unless options.silent is true (a data-only push)',
    });
  }
  const seen = new Set<string>();
  for (const tag of Object.keys(values.locales)) {
    const key = normalizeTag(tag);
    if (seen.has(key)) {
      details.push({ field: `locales.${tag}`, message: 'the same locale is given twice (_ is read as -)' });
    }
    seen.add(key);
  }
  if (details.length > 0) throw invalid('template is not valid', details);
  return values;
}

export async function createTemplate(
  deps: ServiceDeps,
  tenantId: string,
  input: TemplateInput,
): Promise<TemplateView> {
  const values = toValues(input);
  const row = await insertTemplate(deps.db, { id: uuidv7(), apiClientId: tenantId, ...values });
  if (!row) throw nameTaken(values.name);
  return toView(row);
}

export async function getTemplate(deps: ServiceDeps, tenantId: string, id: string): Promise<TemplateView> {
  const row = await findTemplate(deps.db, tenantId, { id });
  if (!row) throw notFound('template');
  return toView(row);
}

export async function listTemplatePage(
  deps: ServiceDeps,
  tenantId: string,
  filter: TemplateFilter,
  limit: number,
  cursor: string | undefined,
): Promise<PageView<TemplateView>> {
  const page = await listTemplates(deps.db, tenantId, filter, limit, cursor);
  return pageView(page, toView);
}

/** Replaces the whole template: fields not sent are cleared (is_active returns to true). */
export async function replaceTemplate(
  deps: ServiceDeps,
  tenantId: string,
  id: string,
  input: TemplateInput,
): Promise<TemplateView> {
  const values = toValues(input);
  const row = await updateTemplate(deps.db, tenantId, id, values);
  if (row === 'not_found') throw notFound('template');
  if (row === 'name_taken') throw nameTaken(values.name);
  return toView(row);
}

export async function deleteTemplate(deps: ServiceDeps, tenantId: string, id: string): Promise<void> {
  if (!(await deleteTemplateRow(deps.db, tenantId, id))) throw notFound('template');
}

export interface PreviewInput {
  variables: Record<string, string>;
  locale?: string | undefined;
}

/** A template reference as a send gives it (an id, or else a name), as the lookup takes it. */
export const templateRefOf = (ref: string): { id: string } | { name: string } =>
  UUID_PATTERN.test(ref) ? { id: ref } : { name: ref };

/**
 * The content a device with this locale would get from a template named by id or name, as a send names it
 * (inactive templates can be previewed too).
 */
export async function previewTemplate(
  deps: ServiceDeps,
  tenantId: string,
  ref: string,
  input: PreviewInput,
): Promise<{ rendered: TemplateContent }> {
  const row = await findTemplate(deps.db, tenantId, templateRefOf(ref));
  if (!row) throw notFound('template');
  return { rendered: pickVariant(renderTemplate(row, input.variables), input.locale) };
}

/**
 * The template a send names, by id and/or name: 404 `template_not_found` when the tenant has none, 422
 * `template_inactive` when it is switched off.
 */
export async function loadTemplateForSend(
  ex: Executor,
  tenantId: string,
  ref: { id?: string; name?: string },
): Promise<TemplateRow> {
  const what = ref.id ?? (ref.name !== undefined ? `"${ref.name}"` : undefined);
  if (what === undefined) {
    throw invalid('name the template by id or by name', [
      { field: 'template', message: 'id or name required' },
    ]);
  }
  // A malformed id cannot match (and PostgreSQL would reject it in a uuid comparison).
  const row =
    ref.id !== undefined && !UUID_PATTERN.test(ref.id) ? undefined : await findTemplate(ex, tenantId, ref);
  if (!row) throw new AppError('template_not_found', 404, `template ${what} not found`);
  if (!row.isActive) {
    throw new AppError(
      'template_inactive',
      422,
      `template "${row.name}" is inactive: activate it to send with it`,
    );
  }
  return row;
}
