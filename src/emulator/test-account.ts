/** Throwaway service accounts for the emulator: tests, the sandbox and benchmarks. */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import type { ServiceAccount } from '../push/push-provider.ts';

export interface TestServiceAccount {
  account: ServiceAccount;
  publicKeyPem: string;
}

/** A service account with a fresh RSA-2048 key pair whose token_uri points at the emulator (or any endpoint). */
export function createTestServiceAccount(options: {
  projectId: string;
  tokenUri: string;
  clientEmail?: string;
}): TestServiceAccount {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  const account: ServiceAccount = {
    type: 'service_account',
    project_id: options.projectId,
    client_email:
      options.clientEmail ??
      `emulator-${randomBytes(4).toString('hex')}@${options.projectId}.iam.gserviceaccount.com`,
    private_key: privateKey,
    private_key_id: randomBytes(20).toString('hex'),
    token_uri: options.tokenUri,
  };
  return { account, publicKeyPem: publicKey };
}
