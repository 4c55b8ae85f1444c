/** Profiles: the tenant's users, addressed by id, E.164 phone number or the tenant's own external id. */
import { parsePhoneNumberFromString } from 'libphonenumber-js/max';
import type { Executor } from '../db/client.ts';
import { deactivateDevicesOfProfile } from '../db/devices.repository.ts';
import {
  findProfile,
  insertProfile,
  listProfiles,
  type ProfileFilter,
  type ProfileKey,
  type ProfileRow,
  softDeleteProfile,
  updateProfile,
} from '../db/profiles.repository.ts';
import type { QuietHoursWindow } from '../domain/timing.ts';
import { AppError, invalid, invalidQuery, notFound } from '../lib/errors.ts';
import { uuidv7 } from '../lib/ids.ts';
import type { ServiceDeps } from './deps.ts';
import { deviceDeactivated, emitEvents } from './events.ts';
import { type PageView, pageView } from './views.ts';

export interface ProfileView {
  id: string;
  phone_number: string | null;
  external_id: string | null;
  name: string | null;
  metadata: Record<string, unknown>;
  /** The profile's own quiet hours, over the tenant's; null: the tenant's apply. */
  quiet_hours: QuietHoursWindow | null;
  created_at: string;
  updated_at: string;
}

export function toView(row: ProfileRow): ProfileView {
  return {
    id: row.id,
    phone_number: row.phoneNumber,
    external_id: row.externalId,
    name: row.name,
    metadata: row.metadata,
    quiet_hours: row.quietHours ?? null,
    created_at: row.createdAt.toISOString(),
    updated_at: row.updatedAt.toISOString(),
  };
}

/** Normalizes a phone number to E.164, or throws a 422 naming the field. */
export function normalizePhoneNumber(value: string, field = 'phone_number'): string {
  const parsed = value.startsWith('+') ? parsePhoneNumberFromString(value) : undefined;
  if (!parsed?.isValid()) {
    throw invalid(`${field} must be a valid phone number in E.164 format, e.g. +255712345678`, [
      { field, message: 'not a valid E.164 phone number' },
    ]);
  }
  return parsed.number;
}

/** The phone_number filter of a list: the same rule, but a bad query value is a 400 like any other. */
function phoneNumberQuery(value: string): string {
  try {
    return normalizePhoneNumber(value, 'query.phone_number');
  } catch (error) {
    if (!(error instanceof AppError)) throw error;
    throw invalidQuery(error.message, error.details);
  }
}

export interface ProfileInput {
  phone_number?: string | null | undefined;
  external_id?: string | null | undefined;
  name?: string | null | undefined;
  metadata?: Record<string, unknown> | undefined;
  quiet_hours?: QuietHoursWindow | null | undefined;
}

const conflict = (field: string) =>
  new AppError('conflict', 409, `a profile with this ${field} already exists`, [
    { field, message: 'already in use' },
  ]);

/** Throws 409 when another live profile of the tenant has this phone number or external id. */
export async function assertUnique(
  ex: Executor,
  tenantId: string,
  input: ProfileInput,
  selfId?: string,
): Promise<void> {
  if (input.phone_number) {
    const other = await findProfile(ex, tenantId, { phoneNumber: input.phone_number });
    if (other && other.id !== selfId) throw conflict('phone_number');
  }
  if (input.external_id) {
    const other = await findProfile(ex, tenantId, { externalId: input.external_id });
    if (other && other.id !== selfId) throw conflict('external_id');
  }
}

export async function createProfile(
  deps: ServiceDeps,
  tenantId: string,
  input: ProfileInput,
): Promise<ProfileView> {
  const phone = input.phone_number ? normalizePhoneNumber(input.phone_number) : null;
  if (!phone && !input.external_id) {
    throw invalid('a profile needs a phone_number or an external_id', [
      { field: 'phone_number', message: 'phone_number or external_id is required' },
    ]);
  }
  return deps.db.transaction(async (tx) => {
    await assertUnique(tx, tenantId, { ...input, phone_number: phone });
    const row = await insertProfile(tx, {
      id: uuidv7(),
      apiClientId: tenantId,
      phoneNumber: phone,
      externalId: input.external_id ?? null,
      name: input.name ?? null,
      metadata: input.metadata ?? {},
      quietHours: input.quiet_hours ?? null,
    });
    return toView(row);
  });
}

/** Finds the profile for a phone number or external id, creating it when the tenant has none yet. */
export async function findOrCreateProfile(
  ex: Executor,
  tenantId: string,
  key: { phoneNumber: string } | { externalId: string },
): Promise<ProfileRow> {
  const existing = await findProfile(ex, tenantId, key);
  if (existing) return existing;
  return insertProfile(ex, {
    id: uuidv7(),
    apiClientId: tenantId,
    phoneNumber: 'phoneNumber' in key ? key.phoneNumber : null,
    externalId: 'externalId' in key ? key.externalId : null,
  });
}

export async function getProfile(deps: ServiceDeps, tenantId: string, id: string): Promise<ProfileView> {
  const row = await findProfile(deps.db, tenantId, { id });
  if (!row) throw notFound('profile');
  return toView(row);
}

export async function resolveProfile(ex: Executor, tenantId: string, key: ProfileKey): Promise<ProfileRow> {
  const row = await findProfile(ex, tenantId, key);
  if (!row) throw notFound('profile');
  return row;
}

export async function listProfilePage(
  deps: ServiceDeps,
  tenantId: string,
  filter: ProfileFilter,
  limit: number,
  cursor: string | undefined,
): Promise<PageView<ProfileView>> {
  const phoneNumber = filter.phoneNumber ? phoneNumberQuery(filter.phoneNumber) : undefined;
  const page = await listProfiles(deps.db, tenantId, { ...filter, phoneNumber }, limit, cursor);
  return pageView(page, toView);
}

export async function replaceProfile(
  deps: ServiceDeps,
  tenantId: string,
  id: string,
  input: ProfileInput,
): Promise<ProfileView> {
  const phone = input.phone_number
    ? normalizePhoneNumber(input.phone_number)
    : (input.phone_number ?? undefined);
  return deps.db.transaction(async (tx) => {
    const current = await findProfile(tx, tenantId, { id });
    if (!current) throw notFound('profile');
    const next = {
      phoneNumber: phone === undefined ? current.phoneNumber : phone,
      externalId: input.external_id === undefined ? current.externalId : input.external_id,
    };
    if (!next.phoneNumber && !next.externalId) {
      throw invalid('a profile needs a phone_number or an external_id');
    }
    await assertUnique(tx, tenantId, { phone_number: next.phoneNumber, external_id: next.externalId }, id);
    const row = await updateProfile(tx, tenantId, id, {
      ...next,
      ...(input.name !== undefined ? { name: input.name } : {}),
      ...(input.metadata !== undefined ? { metadata: input.metadata } : {}),
      ...(input.quiet_hours !== undefined ? { quietHours: input.quiet_hours } : {}),
    });
    return toView(row!);
  });
}

/**
 * Soft-deletes the profile (restorable for SOFT_DELETE_RETENTION_DAYS, purged after) and deactivates its
 * devices (reason profile_deleted), so nothing more is sent to that person.
 */
export async function deleteProfile(deps: ServiceDeps, tenantId: string, id: string): Promise<void> {
  await deps.db.transaction(async (tx) => {
    if (!(await softDeleteProfile(tx, tenantId, id))) throw notFound('profile');
    const deviceIds = await deactivateDevicesOfProfile(tx, tenantId, id, 'profile_deleted');
    if (deviceIds.length > 0)
      await emitEvents(tx, [deviceDeactivated(tenantId, deviceIds, 'profile_deleted')]);
  });
}
