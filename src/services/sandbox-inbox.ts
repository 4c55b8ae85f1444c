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

/** A fault the sandbox can be told to answer for one device token. */
export interface SandboxFault {
  /** The FCM error code answered. */
  code: 'UNREGISTERED' | 'UNAVAILABLE';
  /** How many sends get it (a burst); undefined: every send, until cleared. */
  count?: number | undefined;
}

export interface SandboxInbox {
  /** Real sends (not validate_only dry runs) still kept, newest first, of every tenant. */
  newestFirst(): SandboxRecord[];
  /** Makes the emulator answer `fault` to sends to this token (null: clears the token's fault). */
  setTokenFault(token: string, fault: SandboxFault | null): void;
  /** The fault the emulator will answer this token now (a burst with the sends it has left), if any. */
  tokenFault(token: string): { code: string; remaining: number | null } | null;
}

/**
 * How many messages (of all tenants, dry runs included) the in-process emulator keeps; older ones are forgotten,
 * so that a development server that runs for weeks does not grow without bound.
 */
export const SANDBOX_KEEPS = 10_000;
