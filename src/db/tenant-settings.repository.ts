/** SQL for a tenant's settings (one row per tenant, made on the first PATCH). */
import { eq } from 'drizzle-orm';
import type { Executor } from './client.ts';
import { tenantSettings } from './schema.ts';

export type TenantSettingsRow = typeof tenantSettings.$inferSelect;

export type TenantSettingsChange = Partial<
  Pick<TenantSettingsRow, 'defaultTimeZone' | 'quietHours' | 'throttlePerMinute'>
>;

export async function findTenantSettings(
  ex: Executor,
  tenantId: string,
): Promise<TenantSettingsRow | undefined> {
  const [row] = await ex.select().from(tenantSettings).where(eq(tenantSettings.apiClientId, tenantId));
  return row;
}

/** Sets the given fields (others kept), making the row when the tenant has none yet. */
export async function upsertTenantSettings(
  ex: Executor,
  tenantId: string,
  change: TenantSettingsChange,
): Promise<TenantSettingsRow> {
  const [row] = await ex
    .insert(tenantSettings)
    .values({ apiClientId: tenantId, ...change })
    .onConflictDoUpdate({ target: tenantSettings.apiClientId, set: { ...change, updatedAt: new Date() } })
    .returning();
  return row!;
}
