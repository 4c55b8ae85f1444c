/** Devices: register (or re-register) an FCM token, read, update, deactivate. Tokens are stored encrypted; only their last 8 characters are kept in clear (token_suffix, docs/security.md). */
import type { Executor } from '../db/client.ts';
import { type DeviceDeliveryView, listDeviceDeliveries } from '../db/deliveries.repository.ts';
import {
  type DeviceFilter,
  type DeviceRow,
  devicesWithoutSuffix,
  findDevice,
  findDeviceHoldingToken,
  listDevices,
  markDeviceSeen,
  reindexDeviceToken,
  setTokenSuffixes,
  softDeleteDevice,
  TOKEN_SUFFIX_LENGTH,
  updateDevice,
  upsertDevice,
} from '../db/devices.repository.ts';
import type { Platform } from '../domain/platform.ts';
import type { Cipher } from '../lib/crypto.ts';
import { AppError, notFound } from '../lib/errors.ts';
import { uuidv7 } from '../lib/ids.ts';
import { versionKey } from '../lib/versions.ts';
import type { ServiceDeps } from './deps.ts';
import { deviceDeactivated, emitEvents } from './events.ts';
import { findOrCreateProfile, normalizePhoneNumber, resolveProfile } from './profiles.service.ts';
import { assertTokenAccepted } from './token-validation.ts';
import { assertIdCursor, deliveryTimes, isoOrNull, type PageView, pageView } from './views.ts';

export interface DeviceView {
  id: string;
  profile_id: string | null;
  platform: Platform;
  /** The last characters of the token: enough to recognise it, useless to an attacker. */
  token_suffix: string;
  app_version: string | null;
  os_version: string | null;
  model: string | null;
  timezone: string | null;
  locale: string | null;
  tags: string[];
  is_active: boolean;
  deactivated_reason: string | null;
  deactivated_at: string | null;
  last_seen_at: string;
  created_at: string;
  updated_at: string;
}

/** The stored, searchable suffix of a token (devices.token_suffix); docs/security.md says why storing it is safe. */
export const tokenSuffixOf = (token: string): string => token.slice(-TOKEN_SUFFIX_LENGTH);

export function toView(row: DeviceRow, cipher: Cipher): DeviceView {
  return {
    id: row.id,
    profile_id: row.profileId,
    platform: row.platform,
    token_suffix: row.tokenSuffix ?? tokenSuffixOf(cipher.decrypt(row.tokenCiphertext)),
    app_version: row.appVersion,
    os_version: row.osVersion,
    model: row.model,
    timezone: row.timezone,
    locale: row.locale,
    tags: row.tags,
    is_active: row.isActive,
    deactivated_reason: row.deactivatedReason,
    deactivated_at: row.deactivatedAt?.toISOString() ?? null,
    last_seen_at: row.lastSeenAt.toISOString(),
    created_at: row.createdAt.toISOString(),
    updated_at: row.updatedAt.toISOString(),
  };
}

export interface DeviceMetadata {
  app_version?: string | null | undefined;
  os_version?: string | null | undefined;
  model?: string | null | undefined;
  timezone?: string | null | undefined;
  locale?: string | null | undefined;
  tags?: string[] | undefined;
}

export interface DeviceOwner {
  profile_id?: string | undefined;
  phone_number?: string | undefined;
  external_id?: string | undefined;
}

export interface RegisterDeviceInput extends DeviceMetadata, DeviceOwner {
  platform: Platform;
  token: string;
}

/** The owning profile: by id (must exist), or by phone number / external id (created on first use). */
async function resolveOwner(
  ex: Executor,
  tenantId: string,
  owner: DeviceOwner,
): Promise<string | null | undefined> {
  if (owner.profile_id) return (await resolveProfile(ex, tenantId, { id: owner.profile_id })).id;
  if (owner.phone_number) {
    const phoneNumber = normalizePhoneNumber(owner.phone_number);
    return (await findOrCreateProfile(ex, tenantId, { phoneNumber })).id;
  }
  if (owner.external_id)
    return (await findOrCreateProfile(ex, tenantId, { externalId: owner.external_id })).id;
  return undefined;
}

function metadataColumns(input: DeviceMetadata) {
  return {
    ...(input.app_version !== undefined
      ? {
          appVersion: input.app_version,
          appVersionKey: input.app_version === null ? null : versionKey(input.app_version),
        }
      : {}),
    ...(input.os_version !== undefined ? { osVersion: input.os_version } : {}),
    ...(input.model !== undefined ? { model: input.model } : {}),
    ...(input.timezone !== undefined ? { timezone: input.timezone } : {}),
    ...(input.locale !== undefined ? { locale: input.locale } : {}),
    ...(input.tags !== undefined ? { tags: [...new Set(input.tags)] } : {}),
  };
}

/**
 * Registers a token; a token the tenant already has updates that device (and reactivates it) instead. The
 * token is first dry-run with FCM when VALIDATE_TOKENS_ON_REGISTER is on (see token-validation.ts).
 */
export async function registerDevice(
  deps: ServiceDeps,
  tenantId: string,
  input: RegisterDeviceInput,
): Promise<{ device: DeviceView; created: boolean }> {
  const { db, cipher } = deps;
  await assertTokenAccepted(deps, tenantId, input.token);
  return db.transaction(async (tx) => {
    const profileId = await resolveOwner(tx, tenantId, input);
    const tokenCiphertext = cipher.encrypt(input.token);
    const tokenHash = cipher.blindIndex(input.token);
    await reindexDeviceToken(
      tx,
      tenantId,
      cipher.previousBlindIndexes(input.token),
      tokenHash,
      tokenCiphertext,
    );
    const { device, created } = await upsertDevice(tx, {
      id: uuidv7(),
      apiClientId: tenantId,
      profileId: profileId ?? null,
      platform: input.platform,
      tokenCiphertext,
      tokenHash,
      tokenSuffix: tokenSuffixOf(input.token),
      ...metadataColumns(input),
      lastSeenAt: deps.clock.now(),
    });
    const view = toView(device, cipher);
    await emitEvents(tx, [{ tenantId, type: 'device.registered', data: { device: view, created } }]);
    return { device: view, created };
  });
}

export async function getDevice(deps: ServiceDeps, tenantId: string, id: string): Promise<DeviceView> {
  const row = await findDevice(deps.db, tenantId, id);
  if (!row) throw notFound('device');
  return toView(row, deps.cipher);
}

export async function listDevicePage(
  deps: ServiceDeps,
  tenantId: string,
  filter: DeviceFilter,
  limit: number,
  cursor: string | undefined,
): Promise<PageView<DeviceView>> {
  const page = await listDevices(deps.db, tenantId, filter, limit, cursor);
  return pageView(page, (row) => toView(row, deps.cipher));
}

export interface UpdateDeviceInput extends DeviceMetadata, DeviceOwner {
  platform?: Platform | undefined;
  token?: string | undefined;
}

export async function changeDevice(
  deps: ServiceDeps,
  tenantId: string,
  id: string,
  input: UpdateDeviceInput,
): Promise<DeviceView> {
  const { db, cipher } = deps;
  if (input.token !== undefined) {
    if (!(await findDevice(db, tenantId, id))) throw notFound('device');
    await assertTokenAccepted(deps, tenantId, input.token);
  }
  return db.transaction(async (tx) => {
    if (!(await findDevice(tx, tenantId, id))) throw notFound('device');
    const profileId = await resolveOwner(tx, tenantId, input);
    const values: Partial<DeviceRow> = { ...metadataColumns(input), lastSeenAt: deps.clock.now() };
    if (profileId !== undefined) values.profileId = profileId;
    if (input.platform) values.platform = input.platform;
    if (input.token !== undefined) {
      const tokenHash = cipher.blindIndex(input.token);
      const tokenCiphertext = cipher.encrypt(input.token);
      const previous = cipher.previousBlindIndexes(input.token);
      await reindexDeviceToken(tx, tenantId, previous, tokenHash, tokenCiphertext);
      const other = await findDeviceHoldingToken(tx, tenantId, tokenHash);
      if (other && other.id !== id) {
        const deleted = other.deletedAt !== null;
        throw new AppError(
          'conflict',
          409,
          deleted
            ? 'a deleted device holds this token: restore it, or register the token again with POST /devices'
            : 'another device is registered with this token',
          [{ field: 'token', message: 'already registered', device_id: other.id, deleted }],
        );
      }
      values.tokenHash = tokenHash;
      values.tokenCiphertext = tokenCiphertext;
      values.tokenSuffix = tokenSuffixOf(input.token);
    }
    const row = await updateDevice(tx, tenantId, id, values);
    return toView(row!, cipher);
  });
}

/**
 * How fresh last_seen_at is kept: a sign of life (a receipt, a check-in) moves it only when it is older than
 * this, so a storm of receipts from one device is at most one write per device per 5 minutes; the rest are
 * reads that change nothing. Registration and PATCH always set it (they write the row anyway).
 */
export const LAST_SEEN_RESOLUTION_SECONDS = 300;

/** A sign of life from a tenant's device, at the injected clock's now; false when it has no such device. */
export function deviceSeen(deps: ServiceDeps, ex: Executor, tenantId: string, deviceId: string) {
  return markDeviceSeen(ex, tenantId, deviceId, deps.clock.now(), LAST_SEEN_RESOLUTION_SECONDS);
}

/** POST /devices/{id}/seen: the cheap check-in of a device (its app opened, say). 404 for another tenant's. */
export async function checkInDevice(deps: ServiceDeps, tenantId: string, id: string): Promise<void> {
  if (!(await deviceSeen(deps, deps.db, tenantId, id))) throw notFound('device');
}

/**
 * DELETE soft-deletes: the device disappears from the API and stops receiving at once (it is deactivated, reason
 * deactivated_by_client), can be restored for SOFT_DELETE_RETENTION_DAYS, and is purged after. Re-registering
 * its token brings it back as well.
 */
export async function deleteDevice(deps: ServiceDeps, tenantId: string, id: string): Promise<void> {
  await deps.db.transaction(async (tx) => {
    const before = await findDevice(tx, tenantId, id);
    if (!before || !(await softDeleteDevice(tx, tenantId, id))) throw notFound('device');
    if (before.isActive) {
      await emitEvents(tx, [deviceDeactivated(tenantId, [id], 'deactivated_by_client')]);
    }
  });
}

/** A device's deliveries (one per notification it was sent), newest first. */
export async function listDeviceDeliveryPage(
  deps: ServiceDeps,
  tenantId: string,
  id: string,
  limit: number,
  cursor: string | undefined,
): Promise<PageView<ReturnType<typeof deviceDeliveryView>>> {
  assertIdCursor(cursor);
  if (!(await findDevice(deps.db, tenantId, id))) throw notFound('device');
  const page = await listDeviceDeliveries(deps.db, tenantId, id, limit, cursor);
  return { items: page.items.map(deviceDeliveryView), next_cursor: page.nextCursor };
}

const deviceDeliveryView = (d: DeviceDeliveryView) => ({
  ...deliveryTimes(d),
  created_at: isoOrNull(d.created_at) ?? '',
});

/**
 * Fills token_suffix for devices stored before it existed (migration 0007): the token must be decrypted, which
 * SQL cannot do, so the server does it in batches, at start and hourly, until none is left. Returns how many.
 */
export async function backfillTokenSuffixes(deps: ServiceDeps, batch = 1000): Promise<number> {
  let done = 0;
  for (;;) {
    const rows = await devicesWithoutSuffix(deps.db, batch);
    if (rows.length === 0) return done;
    await setTokenSuffixes(
      deps.db,
      rows.map((r) => ({ id: r.id, suffix: tokenSuffixOf(deps.cipher.decrypt(r.tokenCiphertext)) })),
    );
    done += rows.length;
    if (rows.length < batch) return done;
  }
}
