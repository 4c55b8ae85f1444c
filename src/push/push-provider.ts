/** The contract between the send path and a push service (FCM): a batch of messages in, one outcome per message out. */

/** A Google service-account key file, as downloaded from the Firebase console (only the fields we use). */
export interface ServiceAccount {
  type: 'service_account';
  project_id: string;
  client_email: string;
  private_key: string;
  private_key_id?: string;
  token_uri: string;
}

/** One FCM HTTP v1 `Message` (https://firebase.google.com/docs/reference/fcm/rest/v1/projects.messages). */
export interface FcmMessage {
  token: string;
  notification?: { title?: string; body?: string; image?: string };
  data?: Record<string, string>;
  android?: Record<string, unknown>;
  apns?: {
    headers?: Record<string, string>;
    payload?: Record<string, unknown>;
    fcm_options?: Record<string, string>;
  };
  webpush?: {
    headers?: Record<string, string>;
    notification?: Record<string, unknown>;
    data?: Record<string, string>;
    fcm_options?: Record<string, string>;
  };
  fcm_options?: { analytics_label?: string };
}

/** Error codes FCM v1 returns in `details[].errorCode` (plus our transport-level ones). */
export type FcmErrorCode =
  | 'UNSPECIFIED_ERROR'
  | 'INVALID_ARGUMENT'
  | 'UNREGISTERED'
  | 'SENDER_ID_MISMATCH'
  | 'QUOTA_EXCEEDED'
  | 'UNAVAILABLE'
  | 'INTERNAL'
  | 'THIRD_PARTY_AUTH_ERROR'
  | 'AUTH_ERROR'
  | 'TIMEOUT'
  | 'CONNECTION_ERROR';

export type SendOutcome =
  | { kind: 'sent'; messageId: string }
  /** Will not succeed if repeated. `tokenInvalid` says the device's token is dead and the device should be deactivated. */
  | { kind: 'permanent'; errorCode: FcmErrorCode; message: string; tokenInvalid: boolean }
  /** May succeed later; `retryAfterMs` is FCM's Retry-After when it sent one (never retry earlier). */
  | { kind: 'retryable'; errorCode: FcmErrorCode; message: string; retryAfterMs?: number };

export interface SendOptions {
  /** FCM `validate_only`: check the message and token without delivering it. */
  validateOnly?: boolean;
}

export interface PushProvider {
  /** Sends every message concurrently; never throws for a per-message failure, the outcome array says it. */
  send(account: ServiceAccount, messages: FcmMessage[], options?: SendOptions): Promise<SendOutcome[]>;
  /** Mints (or reuses) an access token: used by health checks and credential validation. */
  checkCredentials(account: ServiceAccount): Promise<void>;
  close(): Promise<void>;
}
