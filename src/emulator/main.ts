/** The emulator as a process of its own, until SIGINT/SIGTERM (the `fcm-server emulator` command: src/cli/). */
import { credentialsFromFiles, selfSignedCredentials, type TlsCredentials } from './certificate.ts';
import { createEmulator, type EmulatorOptions } from './emulator.ts';

/** Starts the emulator, prints where it listens and resolves once a signal stopped it. */
export async function runEmulator(
  options: Required<Pick<EmulatorOptions, 'host' | 'port' | 'latencyMs' | 'maxRecorded' | 'projects'>> & {
    /** true: the self-signed certificate; files: a given one; false: cleartext. */
    tls: boolean | { certFile: string; keyFile: string };
  },
): Promise<void> {
  const { tls: tlsOption, ...rest } = options;
  let tls: TlsCredentials | undefined;
  if (tlsOption === true) tls = await selfSignedCredentials();
  else if (tlsOption) tls = credentialsFromFiles(tlsOption.certFile, tlsOption.keyFile);
  const emulator = await createEmulator({ ...rest, ...(tls ? { tls } : {}) });
  const { hostname, port } = new URL(emulator.url);
  console.log(
    `FCM emulator listening on ${emulator.url} (${tls ? 'HTTPS: HTTP/2 and HTTP/1.1 by ALPN' : 'HTTP/2 cleartext and HTTP/1.1'})`,
  );
  console.log(`  inbox:          ${emulator.url}/`);
  console.log(`  FCM base URL:   ${emulator.url}`);
  console.log(`  token_uri:      ${emulator.tokenUri}`);
  console.log(
    `  open projects:  ${options.projects.length ? `${options.projects.join(', ')} (any service account, signature unchecked)` : 'none (register keys at /__emulator/accounts)'}`,
  );
  if (tls) {
    console.log(`  certificate:    ${tls.certPath}`);
    console.log('  firebase-admin: point it here with');
    console.log(
      `    FCM_EMULATOR_HOST=${hostname}:${port} NODE_EXTRA_CA_CERTS=${tls.certPath} node --import fcm-server/bin/emulator-preload.mjs app.js`,
    );
  }
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
