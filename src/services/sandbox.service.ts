/**
 * The sandbox inbox (GET /api/v1/sandbox/messages): what the in-process emulator received for the calling
 * tenant's own devices, newest first, so a sandbox user sees exactly what FCM would have been sent and what it
 * answered. The emulator keeps only its newest messages (SANDBOX_KEEPS); older ones are gone.
 */

import { findDevice } from '../db/devices.repository.ts';
import { matchSandboxMessages, type SandboxCandidate, type SandboxFilter } from '../db/sandbox.repository.ts';
import type { Platform } from '../domain/platform.ts';
import { AppError, notFound } from '../lib/errors.ts';
import type { ServiceDeps } from './deps.ts';
import type { SandboxFault, SandboxInbox, SandboxRecord } from './sandbox-inbox.ts';
import type { PageView } from './views.ts';

export interface SandboxMessageView {
  id: string;
  received_at: string;
  device_id: string;
  notification_id: string | null;
  platform: Platform;
  /** The FCM v1 message as received, its token replaced by `token_suffix` (the last 8 characters). */
  message: Record<string, unknown>;
  outcome: string;
}

/**
 * Messages attributed per statement: a page usually needs one, while a tenant whose messages are rare among
 * many others' costs one statement per this many messages scanned.
 */
const SCAN_CHUNK = 1000;

/** `fcms_delivery_id` is the receipt key every push carries (delivery.service.ts receiptData). */
const DELIVERY_ID = /^\d{1,18}$/;

function encodeCursor(seq: number): string {
  return Buffer.from(`s1:${seq}`, 'utf8').toString('base64url');
}

function decodeCursor(text: string): number {
  const match = /^s1:(\d{1,15})$/.exec(Buffer.from(text, 'base64url').toString('utf8'));
  if (!match) {
    throw new AppError(
      'invalid_cursor',
      400,
      'cursor is not valid: pass back the next_cursor of a previous page',
    );
  }
  return Number(match[1]);
}

/** A page of the tenant's sandbox messages, newest first. */
export async function listSandboxMessagePage(
  deps: ServiceDeps,
  tenantId: string,
  filter: SandboxFilter,
  limit: number,
  cursor: string | undefined,
): Promise<PageView<SandboxMessageView>> {
  const inbox = inboxOf(deps);
  const before = cursor === undefined ? undefined : decodeCursor(cursor);
  const records = inbox.newestFirst().filter((r) => before === undefined || r.seq < before);
  const hashes = new Map<string, string[]>();
  const hashesOf = (token: string) => {
    let known = hashes.get(token);
    if (!known) {
      // Devices not yet re-indexed by a key rotation still carry their token's index under an older key.
      known = [deps.cipher.blindIndex(token), ...deps.cipher.previousBlindIndexes(token)];
      hashes.set(token, known);
    }
    return known;
  };

  const items: SandboxMessageView[] = [];
  for (let i = 0; i < records.length && items.length <= limit; i += SCAN_CHUNK) {
    const chunk = records.slice(i, i + SCAN_CHUNK);
    const candidates: SandboxCandidate[] = [];
    for (const record of chunk) {
      const token = record.message.token;
      if (typeof token !== 'string') continue;
      const deliveryId = dataOf(record).fcms_delivery_id;
      for (const tokenHash of hashesOf(token)) {
        candidates.push({
          seq: record.seq,
          tokenHash,
          deliveryId: typeof deliveryId === 'string' && DELIVERY_ID.test(deliveryId) ? deliveryId : null,
        });
      }
    }
    const matches = new Map(
      (await matchSandboxMessages(deps.db, tenantId, candidates, filter)).map((m) => [m.seq, m]),
    );
    for (const record of chunk) {
      const match = matches.get(record.seq);
      if (!match) continue;
      items.push({
        id: String(record.seq),
        received_at: new Date(record.receivedAt).toISOString(),
        device_id: match.deviceId,
        notification_id: match.notificationId,
        platform: match.platform,
        message: withoutToken(record.message),
        outcome: record.outcome,
      });
      if (items.length > limit) break;
    }
  }
  const page = items.slice(0, limit);
  const last = page[page.length - 1];
  return { items: page, next_cursor: items.length > limit && last ? encodeCursor(Number(last.id)) : null };
}

function dataOf(record: SandboxRecord): Record<string, unknown> {
  const data = record.message.data;
  return typeof data === 'object' && data !== null ? (data as Record<string, unknown>) : {};
}

/** The message with its token shortened to the last 8 characters, as device views show it. */
function withoutToken(message: Record<string, unknown>): Record<string, unknown> {
  const { token, ...rest } = message;
  return { token_suffix: String(token).slice(-8), ...rest };
}

function inboxOf(deps: ServiceDeps): SandboxInbox {
  if (!deps.sandboxInbox) throw new AppError('not_found', 404, 'the sandbox exists only in sandbox mode');
  return deps.sandboxInbox;
}

export interface SandboxFaultView {
  device_id: string;
  /** The FCM error code the emulator answers this device's sends, or null. */
  fault: string | null;
  /** Sends left in a burst; null for a fault that stays until cleared (or for none). */
  remaining: number | null;
}

/**
 * Tells the emulator to answer a fault to one of the tenant's devices: UNREGISTERED (every send, until cleared:
 * the first send deactivates the device) or UNAVAILABLE (503) for the next `count` sends (a burst the retries
 * ride out). `fault: null` clears it. The fault belongs to the token, so it also applies to another tenant's
 * device registered with the very same token.
 */
export async function setSandboxFault(
  deps: ServiceDeps,
  tenantId: string,
  deviceId: string,
  fault: SandboxFault | null,
): Promise<SandboxFaultView> {
  const inbox = inboxOf(deps);
  const device = await findDevice(deps.db, tenantId, deviceId);
  if (!device) throw notFound('device');
  const token = deps.cipher.decrypt(device.tokenCiphertext);
  inbox.setTokenFault(token, fault);
  const now = inbox.tokenFault(token);
  return { device_id: deviceId, fault: now?.code ?? null, remaining: now?.remaining ?? null };
}
