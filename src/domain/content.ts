/** A notification's content: one type for the send request (services/send-request.ts) and the renderer (push/render.ts). */
/** high: delivered at once, may wake the device; normal: may be batched by the platform. */
export const PRIORITIES = ['high', 'normal'] as const;
export type Priority = (typeof PRIORITIES)[number];

/**
 * What the tenant asked to show, independent of platform. The renderer turns it into the FCM v1 `Message`
 * (android / apns / webpush blocks) for one device.
 */
export interface NotificationContent {
  title?: string;
  body?: string;
  /** FCM data values must be strings; validation happens before anything is queued. */
  data?: Record<string, string>;
  imageUrl?: string;
  priority: Priority;
  /** Seconds FCM keeps the message while the device is offline (android ttl, apns-expiration, webpush TTL). */
  ttlSeconds?: number;
  collapseKey?: string;
  /** Data-only push: no notification block, apns content-available, background priority. */
  silent?: boolean;
  sound?: string;
  badge?: number;
  androidChannelId?: string;
  clickAction?: string;
  /** Deep link / URL opened on tap (android notification.click_action is separate; webpush fcm_options.link). */
  link?: string;
  /** Action buttons (web push renders them; apps get them as data `fcms_actions`). */
  actions?: { id: string; title: string; link?: string | undefined; icon?: string | undefined }[];
  analyticsLabel?: string;
  /** Raw FCM v1 blocks merged over what the renderer produces for the device's platform. */
  overrides?: {
    android?: Record<string, unknown>;
    apns?: Record<string, unknown>;
    webpush?: Record<string, unknown>;
  };
}
