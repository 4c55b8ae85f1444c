/** SQL for a tenant's settings (one row per tenant, made on the first PATCH). */
import { eq, sql } from 'drizzle-orm';
import type { QuietHoursWindow } from '../domain/timing.ts';
import { type Executor, query } from './client.ts';
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

/** What accepting a send reads of its tenant: the settings, and whether any of its profiles has quiet hours. */
export interface SendDefaults {
  defaultTimeZone: string | null;
  quietHours: QuietHoursWindow | null;
  throttlePerMinute: number | null;
  anyProfileQuietHours: boolean;
}

/** SendDefaults in one round trip (the profiles' part reads the partial index profiles_quiet_hours_idx). */
export async function findSendDefaults(ex: Executor, tenantId: string): Promise<SendDefaults> {
  const [row] = await query<{
    default_time_zone: string | null;
    quiet_hours: QuietHoursWindow | string | null;
    throttle_per_minute: number | null;
    any_profile_quiet_hours: boolean;
  }>(
    ex,
    sql`select s.default_time_zone, s.quiet_hours, s.throttle_per_minute,
        exists (select 1 from profiles p where p.api_client_id = ${tenantId} and p.deleted_at is null
          and p.quiet_hours is not null) as any_profile_quiet_hours
      from (select 1) one left join tenant_settings s on s.api_client_id = ${tenantId}`,
  );
  const quiet = row?.quiet_hours ?? null;
  return {
    defaultTimeZone: row?.default_time_zone ?? null,
    // PGlite hands jsonb over as an object, node-postgres too; text only if a driver ever does.
    quietHours: typeof quiet === 'string' ? (JSON.parse(quiet) as QuietHoursWindow) : quiet,
    throttlePerMinute: row?.throttle_per_minute ?? null,
    anyProfileQuietHours: row?.any_profile_quiet_hours === true,
  };
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
