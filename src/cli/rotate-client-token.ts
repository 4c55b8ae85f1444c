/** `fcm-server rotate-client-token <id>`: issues a client a new token and prints it once. */
import { loadConfig } from '../config/index.ts';
import { UUID_PATTERN } from '../lib/ids.ts';
import { adminCommands, type IssuedToken } from '../services/admin-commands.service.ts';
import { DEFAULT_GRACE_SECONDS } from '../services/clients.service.ts';
import { defineCommand, UsageError } from './command.ts';
import { callLocalServer, runAdmin } from './local-server.ts';

export const rotateClientToken = defineCommand({
  name: 'rotate-client-token',
  arguments: '<client-id>',
  summary: 'issue a new token for a client and print it once',
  description:
    'Issues a new token for the client <client-id> and prints it once; the old token keeps working for the\n' +
    'grace period. While `start` holds the embedded database, the command goes through it.',
  options: {
    'grace-seconds': {
      type: 'string',
      value: 'N',
      description: `how long the old token keeps working (default ${DEFAULT_GRACE_SECONDS}; 0: stops now)`,
    },
    json: {
      type: 'boolean',
      description: 'print {"client_id": …, "client_token": …, "previous_token_expires_at": …}',
    },
  },
  async run({ values, positionals }) {
    const [id] = positionals;
    if (!id || positionals.length > 1 || !UUID_PATTERN.test(id)) {
      throw new UsageError(
        'rotate-client-token needs the client id: rotate-client-token <id> [--grace-seconds N]',
      );
    }
    const graceText = values['grace-seconds'];
    if (graceText !== undefined && !/^\d+$/.test(graceText)) {
      throw new UsageError('--grace-seconds must be a whole number of seconds (0: the old token stops now)');
    }
    const graceSeconds = graceText === undefined ? undefined : Number(graceText);
    const rotated = await runAdmin(
      loadConfig(),
      (server) => callLocalServer<IssuedToken>(server, `/clients/${id}/rotate`, { graceSeconds }),
      (db) => adminCommands.rotateClientToken({ db }, id, graceSeconds),
    );
    if (values.json) {
      console.log(
        JSON.stringify({
          client_id: rotated.clientId,
          client_token: rotated.clientToken,
          previous_token_expires_at: rotated.previousTokenExpiresAt ?? null,
        }),
      );
    } else {
      console.log(
        `New token for client ${rotated.clientId}\n  Client-Token: ${rotated.clientToken}\n` +
          (rotated.previousTokenExpiresAt
            ? `The old token keeps working until ${rotated.previousTokenExpiresAt}.\n`
            : 'The old token stopped working.\n') +
          'The token is shown only this once; it is stored hashed.',
      );
    }
  },
});
