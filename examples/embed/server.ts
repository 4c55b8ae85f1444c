// A shop's own Fastify app with the push API mounted under /push (docs/library.md). Settings come from the
// app, not from fcm-server's environment variables: here DATABASE_URL (PostgreSQL) or DATA_DIR (embedded).
// `--create-client NAME` prints the credentials of a new API client once, for a first send.
import { parseArgs } from 'node:util';
import Fastify from 'fastify';
import { createServer } from 'fcm-server';

const { values } = parseArgs({ options: { 'create-client': { type: 'string' } } });
const { DATABASE_URL, DATA_DIR = './data', PORT = '3000' } = process.env;

const app = Fastify();
const push = await createServer({
  settings: { DATABASE_URL, DATA_DIR, NODE_ENV: 'development', LOG_LEVEL: 'warn', DASHBOARD_ENABLED: false },
});
app.addHook('onClose', () => push.close());
await app.register(push.plugin, { prefix: '/push' });

// The shop's own routes, next to the mounted API.
app.get('/', async () => ({ service: 'shop', push_api: '/push/api/v1', push_openapi: '/push/openapi.json' }));

if (values['create-client']) {
  const client = await push.createClient({ name: values['create-client'] });
  console.log(`client ${client.clientId} ${client.clientToken}`);
}
const address = await app.listen({ host: '127.0.0.1', port: Number(PORT) });
console.log(`shop listening on ${address}, push API on ${address}/push/api/v1`);
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => void app.close());
