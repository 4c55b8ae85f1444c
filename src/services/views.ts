/** How use cases shape what the API shows: a page of views with its next_cursor, and times as ISO 8601 text. */
import type { DeliveryView } from '../db/deliveries.repository.ts';
import type { Page } from '../db/pagination.ts';
import { AppError } from '../lib/errors.ts';

/** A page of a list endpoint, as the API sends it. */
export interface PageView<T> {
  items: T[];
  next_cursor: string | null;
}

export const pageView = <Row, View>(page: Page<Row>, toView: (row: Row) => View): PageView<View> => ({
  items: page.items.map(toView),
  next_cursor: page.nextCursor,
});

/** A time the driver may hand over as a Date or as text (raw SQL), or null. */
export const isoOrNull = (time: Date | string | null): string | null =>
  time === null ? null : new Date(time).toISOString();

/** A delivery's times as ISO 8601 text. */
export const deliveryTimes = <D extends DeliveryView>(d: D) => ({
  ...d,
  sent_at: isoOrNull(d.sent_at),
  delivered_at: isoOrNull(d.delivered_at),
  read_at: isoOrNull(d.read_at),
  failed_at: isoOrNull(d.failed_at),
  next_attempt_at: isoOrNull(d.next_attempt_at),
  not_before: isoOrNull(d.not_before),
});

/** Lists keyed by a bigint id (deliveries, webhook attempts) page by that id: a 400 for any other cursor. */
export function assertIdCursor(cursor: string | undefined): void {
  if (cursor !== undefined && !/^[1-9]\d{0,18}$/.test(cursor)) {
    throw new AppError(
      'invalid_cursor',
      400,
      'cursor is not valid: pass back the next_cursor of a previous page',
    );
  }
}
