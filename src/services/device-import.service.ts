/**
 * Device import: up to IMPORT_MAX_DEVICES registrations in one request, for a team moving its devices over
 * from another push service. Each line is judged alone (a bad line is reported and never refuses the others),
 * then the good ones are written in chunks, each chunk one transaction of a few multi-row statements: the
 * owners' profiles, then the devices. Tokens are encrypted and blind-indexed exactly as POST /devices does, and a
 * token the tenant already has updates its device, so importing a file twice creates no duplicates.
 *
 * Unlike POST /devices, tokens are not dry-run with FCM unless the caller asks (`validate`): a migration brings
 * tokens another service was sending to, and a million one-by-one dry runs would take hours. When asked, the
 * dry runs go in batches (token-validation.ts). No device.registered event per imported device either: an
 * import is a bulk load, and a million webhook calls would bury the tenant's receiver.
 */
import type { z } from 'zod';
import { reindexDeviceTokens, upsertDevices } from '../db/devices.repository.ts';
import { ensureProfiles, findLiveProfileIds } from '../db/profiles.repository.ts';
import { AppError, type ErrorDetail } from '../lib/errors.ts';
import { uuidv7 } from '../lib/ids.ts';
import { versionKey } from '../lib/versions.ts';
import type { ServiceDeps } from './deps.ts';
import { registerDeviceSchema } from './device-input.ts';
import { tokenSuffixOf } from './devices.service.ts';
import { normalizePhoneNumber } from './profiles.service.ts';
import { findRejectedTokens } from './token-validation.ts';

/** The most devices one request may carry. */
export const IMPORT_MAX_DEVICES = 10_000;

/** Lines written per transaction: short locks, and ~17 parameters a row stays far below PostgreSQL's 65,535. */
const CHUNK_SIZE = 1_000;

/** A line of an NDJSON body that is not JSON: kept in its place so that the results keep the body's line numbers. */
export class MalformedLine {
  readonly message: string;
  constructor(message: string) {
    this.message = message;
  }
}

export type ImportLineStatus = 'created' | 'updated' | 'rejected';

export interface ImportLineResult {
  /** 1-based: the line of an NDJSON body, the position in the `devices` array of a JSON one. */
  line: number;
  status: ImportLineStatus;
  device_id: string | null;
  error: { code: string; message: string; details: ErrorDetail[] } | null;
}

export interface ImportView {
  created: number;
  updated: number;
  rejected: number;
  results: ImportLineResult[];
}

type DeviceLine = z.infer<typeof registerDeviceSchema>;

interface Accepted {
  line: number;
  input: DeviceLine;
  /** The phone number in E.164. */
  phoneNumber: string | undefined;
}

const rejection = (line: number, error: AppError): ImportLineResult => ({
  line,
  status: 'rejected',
  device_id: null,
  error: { code: error.code, message: error.message, details: error.details },
});

const hasNul = (value: unknown): boolean =>
  typeof value === 'string'
    ? value.includes('\u0000')
    : Array.isArray(value)
      ? value.some(hasNul)
      : typeof value === 'object' && value !== null && Object.values(value).some(hasNul);

/** One line's verdict: the registration it asks for, or why it is refused. */
function judgeLine(line: number, value: unknown): Accepted | AppError {
  if (value instanceof MalformedLine) {
    return new AppError('malformed_json', 400, `line ${line} is not valid JSON: ${value.message}`);
  }
  const parsed = registerDeviceSchema.safeParse(value);
  if (!parsed.success) {
    const details = parsed.error.issues.map((issue) => ({
      ...(issue.path.length > 0 ? { field: issue.path.join('.') } : {}),
      message: issue.message,
    }));
    return new AppError('validation_error', 422, 'this device is not valid', details);
  }
  if (hasNul(parsed.data)) {
    return new AppError('invalid_text', 422, 'text must not contain NUL (\\u0000) characters');
  }
  try {
    const phone = parsed.data.phone_number;
    return {
      line,
      input: parsed.data,
      phoneNumber: phone === undefined ? undefined : normalizePhoneNumber(phone),
    };
  } catch (error) {
    if (error instanceof AppError) return error;
    throw error;
  }
}

/**
 * Imports devices for a tenant. `lines` are the devices as sent (or MalformedLine); every one gets a result,
 * in order. `validate` dry-runs the tokens with FCM first and refuses those FCM calls invalid.
 */
export async function importDevices(
  deps: ServiceDeps,
  tenantId: string,
  lines: readonly unknown[],
  options: { validate: boolean },
): Promise<ImportView> {
  const results: ImportLineResult[] = [];
  const firstLineOfToken = new Map<string, number>();
  let accepted: Accepted[] = [];
  lines.forEach((value, index) => {
    const line = index + 1;
    const verdict = judgeLine(line, value);
    if (verdict instanceof AppError) {
      results[index] = rejection(line, verdict);
      return;
    }
    const first = firstLineOfToken.get(verdict.input.token);
    if (first !== undefined) {
      results[index] = rejection(
        line,
        new AppError('duplicate_token', 409, `the same token is on line ${first} of this import`, [
          { field: 'token', message: 'already in this import', line: first },
        ]),
      );
      return;
    }
    firstLineOfToken.set(verdict.input.token, line);
    accepted.push(verdict);
  });

  if (options.validate && accepted.length > 0) {
    const refused = await findRejectedTokens(
      deps,
      tenantId,
      accepted.map((a) => a.input.token),
    );
    accepted = accepted.filter((a, i) => {
      const error = refused.get(i);
      if (error) results[a.line - 1] = rejection(a.line, error);
      return !error;
    });
  }

  for (let start = 0; start < accepted.length; start += CHUNK_SIZE) {
    const chunk = accepted.slice(start, start + CHUNK_SIZE);
    for (const result of await writeChunk(deps, tenantId, chunk)) results[result.line - 1] = result;
  }
  return {
    created: results.filter((r) => r.status === 'created').length,
    updated: results.filter((r) => r.status === 'updated').length,
    rejected: results.filter((r) => r.status === 'rejected').length,
    results,
  };
}

/** One transaction: the owners' profiles, then the devices, each in one multi-row statement. */
async function writeChunk(
  deps: ServiceDeps,
  tenantId: string,
  chunk: Accepted[],
): Promise<ImportLineResult[]> {
  const { cipher } = deps;
  return deps.db.transaction(async (tx) => {
    const owners = await ensureProfiles(
      tx,
      tenantId,
      {
        phoneNumbers: chunk.flatMap((a) => (a.phoneNumber === undefined ? [] : [a.phoneNumber])),
        externalIds: chunk.flatMap((a) => (a.input.external_id === undefined ? [] : [a.input.external_id])),
      },
      uuidv7,
    );
    const knownProfiles = await findLiveProfileIds(
      tx,
      tenantId,
      chunk.flatMap((a) => (a.input.profile_id === undefined ? [] : [a.input.profile_id])),
    );
    const results: ImportLineResult[] = [];
    const rows = chunk.flatMap((a) => {
      const { input } = a;
      if (input.profile_id !== undefined && !knownProfiles.has(input.profile_id)) {
        results.push(rejection(a.line, new AppError('not_found', 404, 'profile not found')));
        return [];
      }
      const profileId =
        input.profile_id ??
        (a.phoneNumber !== undefined ? owners.byPhone.get(a.phoneNumber) : undefined) ??
        (input.external_id !== undefined ? owners.byExternalId.get(input.external_id) : undefined) ??
        null;
      const appVersion = input.app_version ?? null;
      return [
        {
          line: a.line,
          token: input.token,
          row: {
            id: uuidv7(),
            apiClientId: tenantId,
            profileId,
            platform: input.platform,
            tokenCiphertext: cipher.encrypt(input.token),
            tokenHash: cipher.blindIndex(input.token),
            tokenSuffix: tokenSuffixOf(input.token),
            appVersion,
            appVersionKey: appVersion === null ? null : versionKey(appVersion),
            osVersion: input.os_version ?? null,
            model: input.model ?? null,
            timezone: input.timezone ?? null,
            locale: input.locale ?? null,
            tags: [...new Set(input.tags ?? [])],
          },
        },
      ];
    });
    await reindexDeviceTokens(
      tx,
      tenantId,
      rows.map(({ token, row }) => ({
        previous: cipher.previousBlindIndexes(token),
        hash: row.tokenHash,
        ciphertext: row.tokenCiphertext,
      })),
    );
    const stored = await upsertDevices(
      tx,
      rows.map((r) => r.row),
    );
    for (const { line, row } of rows) {
      const id = stored.get(row.tokenHash)!;
      results.push({ line, status: id === row.id ? 'created' : 'updated', device_id: id, error: null });
    }
    return results;
  });
}
