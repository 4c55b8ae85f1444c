/** A standalone emulator with one registered service account and an access token minted for it. */
import { createEmulator, type Emulator, type EmulatorOptions } from '../src/emulator/emulator.ts';
import { createTestServiceAccount } from '../src/emulator/test-account.ts';
import { signAssertion } from '../src/push/oauth.ts';

export async function emulatorWithToken(
  projectId: string,
  options: EmulatorOptions = {},
): Promise<{ emulator: Emulator; accessToken: string }> {
  const emulator = await createEmulator(options);
  const { account } = createTestServiceAccount({ projectId, tokenUri: emulator.tokenUri });
  emulator.addServiceAccount(account);
  const minted = await fetch(emulator.tokenUri, {
    method: 'POST',
    body: new URLSearchParams({
      grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer',
      assertion: await signAssertion(account, Math.floor(Date.now() / 1000)),
    }),
  });
  const { access_token } = (await minted.json()) as { access_token: string };
  return { emulator, accessToken: access_token };
}
