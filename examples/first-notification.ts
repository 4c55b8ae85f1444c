// A first notification with the TypeScript SDK (docs/sdk.md): FCMS_URL, FCMS_CLIENT_ID and FCMS_TOKEN set.
import { createClient } from '@fcm-server/client';

const { FCMS_URL = 'http://localhost:8080', FCMS_CLIENT_ID, FCMS_TOKEN } = process.env;
const fcm = createClient({ baseUrl: FCMS_URL, clientId: FCMS_CLIENT_ID, token: FCMS_TOKEN });

await fcm.POST('/api/v1/devices', {
  body: { platform: 'android', token: 'first-device-0001', external_id: 'first-user' },
});
const { data } = await fcm.POST('/api/v1/notify', {
  body: { external_id: 'first-user', title: 'Hello from the SDK' },
});
console.log('queued', data?.notification_id);
