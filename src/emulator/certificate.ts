/**
 * The emulator's TLS certificate: self-signed, for loopback and for Google's hosts, so that an SDK whose
 * connections are redirected to the emulator (bin/emulator-preload.mjs) verifies it once it trusts it through
 * NODE_EXTRA_CA_CERTS. Kept on disk and reused while valid, so a restart does not invalidate that setting.
 */
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generate } from 'selfsigned';

/** The hosts Google's Firebase SDKs send messages, tokens and topic changes to. */
export const GOOGLE_HOSTS = ['fcm.googleapis.com', 'oauth2.googleapis.com', 'iid.googleapis.com'];
const NAMES = ['localhost', ...GOOGLE_HOSTS];
const ADDRESSES = ['127.0.0.1', '::1'];

export interface TlsCredentials {
  key: string;
  cert: string;
  /** Where the certificate is on disk: the file to give NODE_EXTRA_CA_CERTS. */
  certPath: string;
}

/** The default place of the generated certificate. */
export const DEFAULT_TLS_DIR = join(tmpdir(), 'fcm-emulator-tls');

/** Reads DIR/cert.pem and DIR/key.pem when still valid for a week and for every host, else generates them. */
export async function selfSignedCredentials(dir = DEFAULT_TLS_DIR): Promise<TlsCredentials> {
  const certPath = join(dir, 'cert.pem');
  const keyPath = join(dir, 'key.pem');
  try {
    const cert = readFileSync(certPath, 'utf8');
    const x509 = new X509Certificate(cert);
    const weekAhead = Date.now() + 7 * 24 * 3600 * 1000;
    const key = readFileSync(keyPath, 'utf8');
    if (
      new Date(x509.validTo).getTime() > weekAhead &&
      NAMES.every((name) => x509.checkHost(name)) &&
      // Two emulators generating at once could leave one's key beside the other's certificate.
      x509.checkPrivateKey(createPrivateKey(key))
    ) {
      return { key, cert, certPath };
    }
  } catch {
    // Absent or unreadable: generate below.
  }
  const notAfterDate = new Date(Date.now() + 365 * 24 * 3600 * 1000);
  const pems = await generate([{ name: 'commonName', value: 'fcm-server emulator' }], {
    keyType: 'ec',
    curve: 'P-256',
    notAfterDate,
    extensions: [
      // A CA, so that NODE_EXTRA_CA_CERTS takes it as a trust anchor for the names below.
      { name: 'basicConstraints', cA: true, critical: true },
      { name: 'keyUsage', digitalSignature: true, keyCertSign: true, critical: true },
      { name: 'extKeyUsage', serverAuth: true },
      {
        name: 'subjectAltName',
        altNames: [
          ...NAMES.map((value) => ({ type: 2 as const, value })),
          ...ADDRESSES.map((ip) => ({ type: 7 as const, ip })),
        ],
      },
    ],
  });
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  writeFileSync(keyPath, pems.private, { mode: 0o600 });
  writeFileSync(certPath, pems.cert);
  return { key: pems.private, cert: pems.cert, certPath };
}

/** A certificate and key given as files (--tls-cert, --tls-key). */
export function credentialsFromFiles(certPath: string, keyPath: string): TlsCredentials {
  return { cert: readFileSync(certPath, 'utf8'), key: readFileSync(keyPath, 'utf8'), certPath };
}
