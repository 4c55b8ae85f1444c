/**
 * The timing controls of a send (docs/delivery-controls.md): local-time delivery, quiet hours and throttling,
 * as stored on the notification when it is accepted (with the tenant's defaults then in force).
 */

/** A daily window of wall-clock times ("22:00" to "08:00" spans midnight), read in each device's zone. */
export interface QuietHoursWindow {
  start: string;
  end: string;
}

export const QUIET_HOURS_ACTIONS = ['hold', 'drop'] as const;

export type QuietHoursAction = (typeof QUIET_HOURS_ACTIONS)[number];

/** What the fan-out needs to time a send's deliveries; absent parts do not apply. */
export interface SendTiming {
  /** The clock's instant when the send was accepted: throttle slots count from it. */
  start: string;
  /** The zone of devices without one: the tenant's default, else UTC. */
  defaultZone: string;
  /** Deliver when each device's zone reaches this wall-clock time ("09:00"), on `on` or the next such time. */
  localTime?: { at: string; on?: string | undefined } | undefined;
  /** Present when the send respects quiet hours: the tenant's window (profiles may have their own). */
  quietHours?: { window: QuietHoursWindow | null; action: QuietHoursAction } | undefined;
  throttlePerMinute?: number | undefined;
}
