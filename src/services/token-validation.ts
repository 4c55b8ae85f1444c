/**
 * Token validation at registration: a dry run (FCM `validate_only`) of an empty message to the token. Only
 * FCM's verdict on the token itself refuses a registration; FCM being down, slow, throttled or the tenant's
 * credentials being wrong never blocks one (the send path deactivates dead tokens later anyway).
 */
import { listFirebaseProjects } from '../db/firebase-projects.repository.ts';
import { findThrottle } from '../db/send-throttles.repository.ts';
import { AppError } from '../lib/errors.ts';
import type { SendOutcome, ServiceAccount } from '../push/push-provider.ts';
import type { ServiceDeps } from './deps.ts';

/** Throws 422 invalid_token when FCM says the token is dead or malformed; otherwise returns. */
export async function assertTokenAccepted(deps: ServiceDeps, tenantId: string, token: string): Promise<void> {
  if (!deps.config.devices.validateTokensOnRegister) return;
  const projects = await listFirebaseProjects(deps.db, tenantId);
  const chosen = projects.find((p) => p.isDefault);
  const account: ServiceAccount | undefined = chosen
    ? (JSON.parse(deps.cipher.decrypt(chosen.credentialsCiphertext)) as ServiceAccount)
    : projects.length === 0
      ? deps.defaultAccount
      : undefined;
  if (!account) return;
  const project = account.project_id;
  const log = deps.logger.child({ firebase_project: project });
  if (deps.circuit.state(project) !== 'closed' || (await findThrottle(deps.db, project))) {
    log.debug('token not validated: FCM is unavailable or throttled for this project');
    return;
  }

  let outcome: SendOutcome | undefined;
  try {
    [outcome] = await deps.push.send(account, [{ token }], { validateOnly: true });
  } catch (error) {
    log.warn({ err: error }, 'token validation failed to run; registration accepted');
    return;
  }
  if (!outcome) return;
  const outage = outcome.kind === 'retryable' && outcome.errorCode !== 'QUOTA_EXCEEDED';
  deps.circuit.record(project, {
    successes: outcome.kind === 'retryable' ? 0 : 1,
    failures: outage ? 1 : 0,
  });
  if (outcome.kind !== 'permanent' || !outcome.tokenInvalid) {
    if (outcome.kind !== 'sent') {
      log.info({ fcm_error: outcome.errorCode }, 'token validation inconclusive; registration accepted');
    }
    return;
  }
  // A tenant with several Firebase projects may register a token of a project other than its default one.
  if (outcome.errorCode === 'SENDER_ID_MISMATCH' && projects.length > 1) return;
  throw new AppError(
    'invalid_token',
    422,
    `FCM rejected this registration token (${outcome.errorCode}): register the token the app currently ` +
      `gets from Firebase Messaging for project ${project}`,
    [{ field: 'token', message: outcome.message, fcm_error: outcome.errorCode }],
  );
}
