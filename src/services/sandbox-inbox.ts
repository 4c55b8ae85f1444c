/**
 * What the sandbox's FCM endpoint (the in-process emulator) received, as the services see it: an interface,
 * because only the process wiring may know the emulator (runtime.ts hands its recording over).
 */

/** One message the emulator answered. */
export interface SandboxRecord {
  /** The emulator's running number: later messages have larger ones. */
  seq: number;
  /** Milliseconds since the epoch. */
  receivedAt: number;
  /** The FCM v1 message as received (with its device token). */
  message: Record<string, unknown>;
  /** `sent`, or the FCM error code the emulator answered (UNREGISTERED, INVALID_ARGUMENT, …). */
  outcome: string;
}

export interface SandboxInbox {
  /** Real sends (not validate_only dry runs) still kept, newest first, of every tenant. */
  newestFirst(): SandboxRecord[];
}

/**
 * How many messages (of all tenants, dry runs included) the in-process emulator keeps; older ones are forgotten,
 * so that a development server that runs for weeks does not grow without bound.
 */
export const SANDBOX_KEEPS = 10_000;
