import {
  deleteDevicesOfProfiles,
  findDeletedDevice,
  findDevice,
  purgeDeletedDevices,
  reactivateDevicesOfProfile,
  undeleteDevice,
} from '../db/devices.repository.ts';
import {
  deleteProfiles,
  findDeletedProfile,
  findProfile,
  lockPurgeableProfiles,
  undeleteProfile,
} from '../db/profiles.repository.ts';
import { AppError, notFound } from '../lib/errors.ts';
import type { ServiceDeps } from './deps.ts';
import { type DeviceView, toView as deviceView } from './devices.service.ts';
import { emitEvents, type NewEvent } from './events.ts';
import { assertUnique, type ProfileView, toView as profileView } from './profiles.service.ts';

export const PURGE_BATCH_SIZE = 500;
const DAY_MS = 86_400_000;

/** Throws 410 restore_window_passed when a row was deleted longer ago than the retention period. */
export function assertRestorable(deletedAt: Date, retentionDays: number, what: string): void {
  if (deletedAt.getTime() <= Date.now() - retentionDays * DAY_MS) {
    throw new AppError(
      'restore_window_passed',
      410,
      `this ${what} was deleted more than ${retentionDays} days ago and can no longer be restored`,
    );
  }
}

/** device.registered for a device a restore made active again (created false, restored true). */
function deviceRestored(tenantId: string, device: DeviceView): NewEvent {
  return { tenantId, type: 'device.registered', data: { device, created: false, restored: true } };
}

const notDeleted = (what: string) => new AppError('not_deleted', 409, `this ${what} is not deleted`);

/**
 * Undoes a profile's DELETE within the retention period. The devices its deletion deactivated (reason
 * profile_deleted) are active again; devices deactivated for another reason (a token FCM reported dead, their
 * own DELETE) stay as they are. 409 when a live profile took its phone number or external id meanwhile.
 */
export async function restoreProfile(deps: ServiceDeps, tenantId: string, id: string): Promise<ProfileView> {
  return deps.db.transaction(async (tx) => {
    const deleted = await findDeletedProfile(tx, tenantId, id);
    if (!deleted) {
      if (await findProfile(tx, tenantId, { id })) throw notDeleted('profile');
      throw notFound('profile');
    }
    assertRestorable(deleted.deletedAt!, deps.config.softDeleteRetentionDays, 'profile');
    await assertUnique(tx, tenantId, { phone_number: deleted.phoneNumber, external_id: deleted.externalId });
    const row = await undeleteProfile(tx, tenantId, id);
    const devices = await reactivateDevicesOfProfile(tx, tenantId, id, 'profile_deleted');
    if (devices.length > 0) {
      await emitEvents(
        tx,
        devices.map((device) => deviceRestored(tenantId, deviceView(device, deps.cipher))),
      );
    }
    return profileView(row!);
  });
}

/**
 * Undoes a device's DELETE within the retention period. It is active again only if the DELETE is what
 * deactivated it (or its profile's deletion, and that profile is back); a dead token stays inactive.
 */
export async function restoreDevice(deps: ServiceDeps, tenantId: string, id: string): Promise<DeviceView> {
  return deps.db.transaction(async (tx) => {
    const deleted = await findDeletedDevice(tx, tenantId, id);
    if (!deleted) {
      if (await findDevice(tx, tenantId, id)) throw notDeleted('device');
      throw notFound('device');
    }
    assertRestorable(deleted.deletedAt!, deps.config.softDeleteRetentionDays, 'device');
    const reactivate =
      !deleted.isActive &&
      (deleted.deactivatedReason === 'deactivated_by_client' ||
        (deleted.deactivatedReason === 'profile_deleted' &&
          deleted.profileId !== null &&
          (await findProfile(tx, tenantId, { id: deleted.profileId })) !== undefined));
    const row = await undeleteDevice(tx, tenantId, id, reactivate);
    const view = deviceView(row!, deps.cipher);
    if (reactivate) await emitEvents(tx, [deviceRestored(tenantId, view)]);
    return view;
  });
}

export interface PurgeResult {
  profiles: number;
  devices: number;
}

/**
 * Hard-deletes profiles and devices soft-deleted before now - retentionDays, with what hangs off them
 * (deliveries, subscriptions; a purged profile's inactive devices). Each batch is its own short transaction,
 * so a large backlog never holds locks for long; it stops when a batch comes back short.
 */
export async function purgeSoftDeleted(
  deps: Pick<ServiceDeps, 'db'>,
  options: { retentionDays: number; batchSize?: number; now?: Date },
): Promise<PurgeResult> {
  const batchSize = options.batchSize ?? PURGE_BATCH_SIZE;
  const cutoff = new Date((options.now ?? new Date()).getTime() - options.retentionDays * DAY_MS);
  const result: PurgeResult = { profiles: 0, devices: 0 };
  for (;;) {
    const purged = await deps.db.transaction(async (tx) => {
      const ids = await lockPurgeableProfiles(tx, cutoff, batchSize);
      result.devices += await deleteDevicesOfProfiles(tx, ids);
      return deleteProfiles(tx, ids);
    });
    result.profiles += purged;
    if (purged < batchSize) break;
  }
  for (;;) {
    const purged = await purgeDeletedDevices(deps.db, cutoff, batchSize);
    result.devices += purged;
    if (purged < batchSize) break;
  }
  return result;
}
