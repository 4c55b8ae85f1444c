/** A tenant's settings (GET/PATCH /api/v1/settings): the defaults of its sends' timing controls. */
import {
  findTenantSettings,
  type TenantSettingsChange,
  type TenantSettingsRow,
  upsertTenantSettings,
} from '../db/tenant-settings.repository.ts';
import type { QuietHoursWindow } from '../domain/timing.ts';
import type { ServiceDeps } from './deps.ts';

export interface SettingsView {
  default_time_zone: string | null;
  quiet_hours: QuietHoursWindow | null;
  throttle_per_minute: number | null;
  updated_at: string | null;
}

export interface SettingsInput {
  default_time_zone?: string | null | undefined;
  quiet_hours?: QuietHoursWindow | null | undefined;
  throttle_per_minute?: number | null | undefined;
}

function toView(row: TenantSettingsRow | undefined): SettingsView {
  return {
    default_time_zone: row?.defaultTimeZone ?? null,
    quiet_hours: row?.quietHours ?? null,
    throttle_per_minute: row?.throttlePerMinute ?? null,
    updated_at: row?.updatedAt.toISOString() ?? null,
  };
}

export async function getSettings(deps: ServiceDeps, tenantId: string): Promise<SettingsView> {
  return toView(await findTenantSettings(deps.db, tenantId));
}

/** Changes the fields given (null clears one); the rest stay as they are. */
export async function changeSettings(
  deps: ServiceDeps,
  tenantId: string,
  input: SettingsInput,
): Promise<SettingsView> {
  const change: TenantSettingsChange = {};
  if (input.default_time_zone !== undefined) change.defaultTimeZone = input.default_time_zone;
  if (input.quiet_hours !== undefined) change.quietHours = input.quiet_hours;
  if (input.throttle_per_minute !== undefined) change.throttlePerMinute = input.throttle_per_minute;
  if (Object.keys(change).length === 0) return getSettings(deps, tenantId);
  return toView(await upsertTenantSettings(deps.db, tenantId, change));
}
