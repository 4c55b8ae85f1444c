/** The emulator as a process of its own, until SIGINT/SIGTERM (the `fcm-server emulator` command: src/cli/). */
import { createEmulator, type EmulatorOptions } from './emulator.ts';

/** Starts the emulator, prints where it listens and resolves once a signal stopped it. */
export async function runEmulator(
  options: Required<Pick<EmulatorOptions, 'host' | 'port' | 'latencyMs' | 'maxRecorded' | 'projects'>>,
): Promise<void> {
  const emulator = await createEmulator(options);
  console.log(`FCM emulator listening on ${emulator.url} (HTTP/2 cleartext and HTTP/1.1)`);
  console.log(`  FCM base URL:   ${emulator.url}`);
  console.log(`  token_uri:      ${emulator.tokenUri}`);
  console.log(
    `  open projects:  ${options.projects.length ? `${options.projects.join(', ')} (any service account, signature unchecked)` : 'none (register keys at /__emulator/accounts)'}`,
  );
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
