/** SQL for notification templates. Every statement is scoped to the tenant; names are unique per tenant. */
import { and, asc, eq, type SQL, sql } from 'drizzle-orm';
import type { LocaleVariant, PlatformOverrides, TemplateOptions } from '../templates/engine.ts';
import { type Executor, isUniqueViolation } from './client.ts';
import { afterCursor, type Page, toPage } from './pagination.ts';
import { templates } from './schema.ts';

/** A stored template, its jsonb columns typed as they are written (validated by the templates service). */
export type TemplateRow = Omit<typeof templates.$inferSelect, 'options' | 'platformOverrides' | 'locales'> & {
  options: TemplateOptions;
  platformOverrides: PlatformOverrides;
  locales: Record<string, LocaleVariant>;
};

/** The columns a create or a full replace sets. */
export type TemplateValues = Pick<
  TemplateRow,
  | 'name'
  | 'description'
  | 'title'
  | 'body'
  | 'data'
  | 'options'
  | 'platformOverrides'
  | 'locales'
  | 'isActive'
>;

const ofTenant = (tenantId: string) => eq(templates.apiClientId, tenantId);

/** Inserts a template; undefined when the tenant already has a template with that name. */
export async function insertTemplate(
  ex: Executor,
  row: TemplateValues & { id: string; apiClientId: string },
): Promise<TemplateRow | undefined> {
  const [created] = await ex
    .insert(templates)
    .values(row)
    .onConflictDoNothing({ target: [templates.apiClientId, templates.name] })
    .returning();
  return created as TemplateRow | undefined;
}

/** The tenant's template by id, by name, or by both (then both must match). */
export async function findTemplate(
  ex: Executor,
  tenantId: string,
  ref: { id?: string | undefined; name?: string | undefined },
): Promise<TemplateRow | undefined> {
  const conditions: (SQL | undefined)[] = [ofTenant(tenantId)];
  if (ref.id !== undefined) conditions.push(eq(templates.id, ref.id));
  if (ref.name !== undefined) conditions.push(eq(templates.name, ref.name));
  const [row] = await ex
    .select()
    .from(templates)
    .where(and(...conditions));
  return row as TemplateRow | undefined;
}

export interface TemplateFilter {
  active?: boolean | undefined;
  namePrefix?: string | undefined;
}

export async function listTemplates(
  ex: Executor,
  tenantId: string,
  filter: TemplateFilter,
  limit: number,
  cursor: string | undefined,
): Promise<Page<TemplateRow>> {
  const conditions: (SQL | undefined)[] = [ofTenant(tenantId), afterCursor(templates.id, cursor, false)];
  if (filter.active !== undefined) conditions.push(eq(templates.isActive, filter.active));
  if (filter.namePrefix) conditions.push(sql`starts_with(${templates.name}, ${filter.namePrefix})`);
  const rows = await ex
    .select()
    .from(templates)
    .where(and(...conditions))
    .orderBy(asc(templates.id))
    .limit(limit + 1);
  return toPage(rows as TemplateRow[], limit);
}

/** Replaces every editable column: the row, 'not_found', or 'name_taken' when another template has the name. */
export async function updateTemplate(
  ex: Executor,
  tenantId: string,
  id: string,
  values: TemplateValues,
): Promise<TemplateRow | 'not_found' | 'name_taken'> {
  try {
    const [row] = await ex
      .update(templates)
      .set({ ...values, updatedAt: new Date() })
      .where(and(ofTenant(tenantId), eq(templates.id, id)))
      .returning();
    return (row as TemplateRow | undefined) ?? 'not_found';
  } catch (error) {
    if (isUniqueViolation(error, 'templates_name_idx')) return 'name_taken';
    throw error;
  }
}

export async function deleteTemplate(ex: Executor, tenantId: string, id: string): Promise<boolean> {
  const rows = await ex
    .delete(templates)
    .where(and(ofTenant(tenantId), eq(templates.id, id)))
    .returning({ id: templates.id });
  return rows.length > 0;
}
