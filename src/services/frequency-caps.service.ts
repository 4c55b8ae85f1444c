/**
 * Frequency caps: the tenant's rules "at most N notifications per profile (or device) per rolling window",
 * optionally only for one topic or template. The fan-out applies them (src/jobs/fanout.job.ts); capped
 * deliveries are recorded skipped with reason frequency_cap (docs/delivery-controls.md).
 */
import {
  deleteFrequencyCap as deleteCapRow,
  type FrequencyCapRow,
  findFrequencyCap,
  insertFrequencyCap,
  listFrequencyCaps,
  updateFrequencyCap,
} from '../db/frequency-caps.repository.ts';
import type { FrequencyCapScope } from '../db/schema.ts';
import { durationSeconds } from '../lib/durations.ts';
import { invalid, notFound } from '../lib/errors.ts';
import { uuidv7 } from '../lib/ids.ts';
import type { ServiceDeps } from './deps.ts';
import { type PageView, pageView } from './views.ts';

/** The longest window a cap may count over: deliveries older than this are not worth keeping for it. */
export const MAX_CAP_WINDOW_SECONDS = 30 * 86_400;

export interface FrequencyCapView {
  id: string;
  max: number;
  per: string;
  scope: FrequencyCapScope;
  topic: string | null;
  template: string | null;
  created_at: string;
  updated_at: string;
}

export interface FrequencyCapInput {
  max: number;
  per: string;
  scope?: FrequencyCapScope | undefined;
  topic?: string | null | undefined;
  template?: string | null | undefined;
}

function toView(row: FrequencyCapRow): FrequencyCapView {
  return {
    id: row.id,
    max: row.max,
    per: row.per,
    scope: row.scope,
    topic: row.topic,
    template: row.template,
    created_at: row.createdAt.toISOString(),
    updated_at: row.updatedAt.toISOString(),
  };
}

/** The window in seconds, refused (422) past MAX_CAP_WINDOW_SECONDS or when it is zero. */
function windowSeconds(per: string): number {
  const seconds = durationSeconds(per);
  if (seconds === 0 || seconds > MAX_CAP_WINDOW_SECONDS) {
    throw invalid('the window of a frequency cap must be between 1m and 30d', [
      { field: 'body.per', message: 'must be between 1m and 30d' },
    ]);
  }
  return seconds;
}

export async function createFrequencyCap(
  deps: ServiceDeps,
  tenantId: string,
  input: FrequencyCapInput,
): Promise<FrequencyCapView> {
  const row = await insertFrequencyCap(deps.db, {
    id: uuidv7(),
    apiClientId: tenantId,
    max: input.max,
    per: input.per,
    perSeconds: windowSeconds(input.per),
    scope: input.scope ?? 'profile',
    topic: input.topic ?? null,
    template: input.template ?? null,
  });
  return toView(row);
}

export async function getFrequencyCap(
  deps: ServiceDeps,
  tenantId: string,
  id: string,
): Promise<FrequencyCapView> {
  const row = await findFrequencyCap(deps.db, tenantId, id);
  if (!row) throw notFound('frequency cap');
  return toView(row);
}

export async function listFrequencyCapPage(
  deps: ServiceDeps,
  tenantId: string,
  limit: number,
  cursor: string | undefined,
): Promise<PageView<FrequencyCapView>> {
  return pageView(await listFrequencyCaps(deps.db, tenantId, limit, cursor), toView);
}

/** PATCH: only the fields given change; null clears topic or template. */
export async function changeFrequencyCap(
  deps: ServiceDeps,
  tenantId: string,
  id: string,
  input: Partial<FrequencyCapInput>,
): Promise<FrequencyCapView> {
  const row = await updateFrequencyCap(deps.db, tenantId, id, {
    ...(input.max === undefined ? {} : { max: input.max }),
    ...(input.per === undefined ? {} : { per: input.per, perSeconds: windowSeconds(input.per) }),
    ...(input.scope === undefined ? {} : { scope: input.scope }),
    ...(input.topic === undefined ? {} : { topic: input.topic }),
    ...(input.template === undefined ? {} : { template: input.template }),
  });
  if (!row) throw notFound('frequency cap');
  return toView(row);
}

export async function deleteFrequencyCap(deps: ServiceDeps, tenantId: string, id: string): Promise<void> {
  if (!(await deleteCapRow(deps.db, tenantId, id))) throw notFound('frequency cap');
}
