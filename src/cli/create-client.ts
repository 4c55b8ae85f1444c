/** `fcm-server create-client`: bootstraps a tenant and prints its credentials, once (the token is stored hashed). */
import { loadConfig } from '../config/index.ts';
import { adminCommands, type IssuedToken } from '../services/admin-commands.service.ts';
import { SCOPES, type Scope } from '../services/clients.service.ts';
import { defineCommand, UsageError } from './command.ts';
import { callLocalServer, runAdmin } from './local-server.ts';

/** A comma-separated option: items trimmed, empty ones dropped. */
const list = (value: string | undefined) =>
  value
    ?.split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');

export const createClient = defineCommand({
  name: 'create-client',
  summary: 'create an API client and print its credentials once',
  description:
    'Creates an API client (a tenant) and prints its Client-ID and Client-Token. The token is shown only\n' +
    'this once; it is stored hashed. While `start` holds the embedded database, the command goes through it.',
  options: {
    name: { type: 'string', value: 'NAME', description: 'required' },
    scopes: {
      type: 'string',
      value: 'a,b',
      description: `${SCOPES.join(',')} (default: send,read,manage; admin opens the admin API only)`,
    },
    'ip-allowlist': {
      type: 'string',
      value: 'a,b',
      description: 'IPs and CIDR ranges the client may call from (default: anywhere)',
    },
    'expires-at': {
      type: 'string',
      value: 'DATE',
      description: 'ISO 8601 date-time after which the token stops working',
    },
    json: { type: 'boolean', description: 'print {"client_id": …, "client_token": …}' },
    shell: {
      type: 'boolean',
      description:
        'print `export CID=… TOK=…` for a shell: eval "$(fcm-server create-client --name NAME --shell)"',
    },
  },
  async run({ values }) {
    const name = values.name?.trim();
    if (!name) throw new UsageError('create-client needs --name NAME');
    const scopes = list(values.scopes) ?? ['send', 'read', 'manage'];
    const unknown = scopes.filter((s) => !(SCOPES as readonly string[]).includes(s));
    if (unknown.length > 0 || scopes.length === 0)
      throw new UsageError(`unknown scope(s): ${unknown.join(', ')}; use ${SCOPES.join(', ')}`);
    let expiresAt: string | undefined;
    if (values['expires-at'] !== undefined) {
      const time = Date.parse(values['expires-at']);
      if (Number.isNaN(time))
        throw new UsageError('--expires-at must be an ISO 8601 date-time, e.g. 2027-06-30T00:00:00Z');
      expiresAt = new Date(time).toISOString();
    }
    const input = { name, scopes: scopes as Scope[], ipAllowlist: list(values['ip-allowlist']), expiresAt };
    const created = await runAdmin(
      loadConfig(),
      (server) => callLocalServer<IssuedToken>(server, '/clients', input),
      (db) => adminCommands.createClient({ db }, input),
    );
    if (values.shell) {
      // Single-quoted: ids and tokens are URL-safe, so no quote inside can end the string early.
      console.log(`export CID='${created.clientId}' TOK='${created.clientToken}'`);
    } else if (values.json) {
      console.log(JSON.stringify({ client_id: created.clientId, client_token: created.clientToken }));
    } else {
      console.log(
        `Client created: ${name}\n  Client-ID:    ${created.clientId}\n  Client-Token: ${created.clientToken}\n` +
          'The token is shown only this once; it is stored hashed.',
      );
    }
  },
});
