/**
 * The app side, for web apps and their service workers: register the browser's FCM token with a registration
 * token that the app's own backend minted (POST /api/v1/registration-tokens), and report receipts with the
 * HMAC receipt token every push carries. Neither needs, or may hold, a client token.
 *
 *   // the page, after Firebase's getToken():
 *   await registerDevice({ baseUrl, registrationToken, token: fcmToken });
 *   // the service worker, on 'push' (delivered) and 'notificationclick' (read):
 *   await sendReceipt({ baseUrl, data: payload.data, status: 'delivered' });
 */
import createFetchClient from 'openapi-fetch';
import { FcmServerError } from './errors.ts';
import { retryingFetch } from './retry.ts';
import type { components, paths } from './schema.d.ts';

/** The data keys of every push the server sends (docs/receipts.md). */
export const RECEIPT_DATA_KEYS = { deliveryId: 'fcms_delivery_id', receiptToken: 'fcms_receipt' } as const;

type AppDeviceBody = NonNullable<
  paths['/api/v1/app/devices']['post']['requestBody']
>['content']['application/json'];

interface Common {
  /** The push server's origin, e.g. `https://push.example.com`. */
  baseUrl: string;
  fetch?: (request: Request) => Promise<Response>;
}

function client(options: Common, headers: Record<string, string> = {}) {
  const api = createFetchClient<paths>({
    baseUrl: options.baseUrl.replace(/\/+$/, ''),
    fetch: retryingFetch(options.fetch ?? ((request: Request) => globalThis.fetch(request))),
    headers,
  });
  api.use({
    async onResponse({ response }) {
      if (!response.ok) throw await FcmServerError.fromResponse(response);
      return response;
    },
  });
  return api;
}

/**
 * Registers this browser's (or app's) FCM token for the user the registration token was minted for; a token
 * already known updates that device. Throws FcmServerError: 401 `registration_token_expired` means: ask the
 * backend for a new registration token.
 */
export async function registerDevice(
  options: Common & { registrationToken: string } & Omit<AppDeviceBody, 'platform'> & {
      platform?: AppDeviceBody['platform'];
    },
): Promise<components['schemas']['Device']> {
  const { baseUrl: _baseUrl, fetch: _fetch, registrationToken, ...device } = options;
  const { data } = await client(options, { authorization: `Bearer ${registrationToken}` }).POST(
    '/api/v1/app/devices',
    { body: { ...device, platform: device.platform ?? 'web' } },
  );
  return data!;
}

/**
 * Reports a push as delivered or read, from the data it carried (FCM's `payload.data` in a service worker).
 * Returns undefined, sending nothing, for a push without the server's keys (another sender's).
 */
export async function sendReceipt(
  options: Common & { data: Record<string, string> | undefined; status: 'delivered' | 'read' },
): Promise<{ delivery_id: string; status: string } | undefined> {
  const deliveryId = options.data?.[RECEIPT_DATA_KEYS.deliveryId];
  const receiptToken = options.data?.[RECEIPT_DATA_KEYS.receiptToken];
  if (!deliveryId || !receiptToken) return undefined;
  const { data } = await client(options).POST('/api/v1/receipts', {
    body: { delivery_id: deliveryId, receipt_token: receiptToken, status: options.status },
  });
  return data;
}
