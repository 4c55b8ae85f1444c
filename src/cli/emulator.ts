/** `fcm-server emulator`: the FCM emulator alone, for other servers or SDKs to send to (docs/emulator.md). */
import { runEmulator } from '../emulator/main.ts';
import { defineCommand, UsageError } from './command.ts';

function nonNegativeInteger(value: string, flag: string): number {
  if (!/^\d+$/.test(value)) throw new UsageError(`${flag} must be a non-negative integer, got "${value}"`);
  return Number(value);
}

function projectList(value: string | undefined): string[] {
  if (value === undefined) return [];
  const projects = value.split(',').map((project) => project.trim());
  for (const project of projects) {
    if (!/^[a-z0-9][a-z0-9-]*$/.test(project)) {
      throw new UsageError(`--project must be project ids (a-z, 0-9, -) separated by commas, got "${value}"`);
    }
  }
  return projects;
}

export const emulator = defineCommand({
  name: 'emulator',
  summary: 'run the FCM emulator alone until SIGINT/SIGTERM',
  description:
    'Runs the FCM emulator (messages:send, the OAuth token endpoint, IID topics) alone until SIGINT or\n' +
    'SIGTERM, for other servers and SDKs to send to: see docs/emulator.md.',
  options: {
    host: { type: 'string', value: 'HOST', description: 'address to listen on', default: '127.0.0.1' },
    port: {
      type: 'string',
      value: 'N',
      description: 'port to listen on, 0 for any free one',
      default: '8099',
    },
    'latency-ms': {
      type: 'string',
      value: 'N',
      description: 'delay before answering each messages:send, in milliseconds',
      default: '0',
    },
    tls: {
      type: 'boolean',
      description:
        'serve HTTPS (HTTP/2 and HTTP/1.1 by ALPN) with a self-signed certificate kept in the temp dir',
    },
    'tls-cert': {
      type: 'string',
      value: 'FILE',
      description: 'PEM certificate for --tls instead of the self-signed one',
    },
    'tls-key': { type: 'string', value: 'FILE', description: 'PEM private key of --tls-cert' },
    project: {
      type: 'string',
      value: 'ID[,ID…]',
      description: 'trust any service account of these projects, key unregistered (signature unchecked)',
    },
    'max-recorded': {
      type: 'string',
      value: 'N',
      description: 'messages kept for inspection at /__emulator/messages',
      default: '100000',
    },
  },
  run: ({ values }) => {
    if ((values['tls-cert'] === undefined) !== (values['tls-key'] === undefined)) {
      throw new UsageError('--tls-cert and --tls-key go together');
    }
    return runEmulator({
      host: values.host,
      port: nonNegativeInteger(values.port, '--port'),
      latencyMs: nonNegativeInteger(values['latency-ms'], '--latency-ms'),
      maxRecorded: nonNegativeInteger(values['max-recorded'], '--max-recorded'),
      projects: projectList(values.project),
      tls:
        values['tls-cert'] !== undefined && values['tls-key'] !== undefined
          ? { certFile: values['tls-cert'], keyFile: values['tls-key'] }
          : values.tls === true,
    });
  },
});
