/** `fcm-server emulator`: runs the FCM emulator alone until SIGINT/SIGTERM. */
import { parseArgs } from 'node:util';
import { createEmulator } from './emulator.ts';

const USAGE = 'usage: fcm-server emulator [--port N] [--host 127.0.0.1] [--latency-ms N] [--max-recorded N]';

/** Parses the emulator's flags, starts it, prints where it listens and resolves once a signal stopped it. */
export async function runEmulatorCli(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      port: { type: 'string', default: '8099' },
      host: { type: 'string', default: '127.0.0.1' },
      'latency-ms': { type: 'string', default: '0' },
      'max-recorded': { type: 'string', default: '100000' },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const port = nonNegativeInteger(values.port, '--port');
  const latencyMs = nonNegativeInteger(values['latency-ms'], '--latency-ms');
  const maxRecorded = nonNegativeInteger(values['max-recorded'], '--max-recorded');

  const emulator = await createEmulator({ host: values.host, port, latencyMs, maxRecorded });
  console.log(`FCM emulator listening on ${emulator.url} (HTTP/2 cleartext and HTTP/1.1)`);
  console.log(`  FCM base URL:   ${emulator.url}`);
  console.log(`  token_uri:      ${emulator.tokenUri}`);
  console.log(
    `  control API:    ${emulator.url}/__emulator/messages, /__emulator/faults, /__emulator/accounts`,
  );

  await new Promise<void>((resolve) => {
    const stop = () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  await emulator.close();
  console.log('FCM emulator stopped');
}

function nonNegativeInteger(value: string, flag: string): number {
  if (!/^\d+$/.test(value))
    throw new Error(`${flag} must be a non-negative integer, got "${value}"\n${USAGE}`);
  return Number(value);
}
