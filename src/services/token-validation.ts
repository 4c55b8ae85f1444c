/**
 * Token validation at registration: a dry run (FCM `validate_only`) of an empty message to the token. Only
 * FCM's verdict on the token itself refuses a registration; FCM being down, slow, throttled or the tenant's
 * credentials being wrong never blocks one (the send path deactivates dead tokens later anyway). A device
 * import validates its tokens the same way, in batches (`findRejectedTokens`).
 */
import { listFirebaseProjects } from '../db/firebase-projects.repository.ts';
import { findThrottle } from '../db/send-throttles.repository.ts';
import { AppError } from '../lib/errors.ts';
import type { SendOutcome, ServiceAccount } from '../push/push-provider.ts';
import type { ServiceDeps } from './deps.ts';

/** Dry runs go to FCM this many at a time (the provider sends a batch concurrently). */
const VALIDATION_BATCH = 500;

/** Throws 422 invalid_token when FCM says the token is dead or malformed; otherwise returns. */
export async function assertTokenAccepted(deps: ServiceDeps, tenantId: string, token: string): Promise<void> {
  if (!deps.config.devices.validateTokensOnRegister) return;
  const rejected = (await findRejectedTokens(deps, tenantId, [token])).get(0);
  if (rejected) throw rejected;
}

/**
 * Dry-runs the tokens with the tenant's default Firebase project, in batches, and returns the 422 invalid_token
 * error of each token FCM refused, by its index in `tokens`. Tokens FCM could not judge are not in the map.
 */
export async function findRejectedTokens(
  deps: ServiceDeps,
  tenantId: string,
  tokens: readonly string[],
): Promise<Map<number, AppError>> {
  const rejected = new Map<number, AppError>();
  const projects = await listFirebaseProjects(deps.db, tenantId);
  const chosen = projects.find((p) => p.isDefault);
  const account: ServiceAccount | undefined = chosen
    ? (JSON.parse(deps.cipher.decrypt(chosen.credentialsCiphertext)) as ServiceAccount)
    : projects.length === 0
      ? deps.defaultAccount
      : undefined;
  if (!account) return rejected;
  const project = account.project_id;
  const log = deps.logger.child({ firebase_project: project });
  for (let start = 0; start < tokens.length; start += VALIDATION_BATCH) {
    if (deps.circuit.state(project) !== 'closed' || (await findThrottle(deps.db, project))) {
      log.debug('tokens not validated: FCM is unavailable or throttled for this project');
      return rejected;
    }
    const batch = tokens.slice(start, start + VALIDATION_BATCH);
    let outcomes: SendOutcome[];
    try {
      outcomes = await deps.push.send(
        account,
        batch.map((token) => ({ token })),
        { validateOnly: true },
      );
    } catch (error) {
      log.warn({ err: error }, 'token validation failed to run; registration accepted');
      return rejected;
    }
    outcomes.forEach((outcome, i) => {
      const error = judge(deps, log, project, projects.length, outcome);
      if (error) rejected.set(start + i, error);
    });
  }
  return rejected;
}

/** FCM's verdict on one token as our error, or undefined when the token is accepted (or could not be judged). */
function judge(
  deps: ServiceDeps,
  log: ServiceDeps['logger'],
  project: string,
  projectCount: number,
  outcome: SendOutcome,
): AppError | undefined {
  const outage = outcome.kind === 'retryable' && outcome.errorCode !== 'QUOTA_EXCEEDED';
  deps.circuit.record(project, {
    successes: outcome.kind === 'retryable' ? 0 : 1,
    failures: outage ? 1 : 0,
  });
  if (outcome.kind !== 'permanent' || !outcome.tokenInvalid) {
    if (outcome.kind !== 'sent') {
      log.info({ fcm_error: outcome.errorCode }, 'token validation inconclusive; registration accepted');
    }
    return undefined;
  }
  // A tenant with several Firebase projects may register a token of a project other than its default one.
  if (outcome.errorCode === 'SENDER_ID_MISMATCH' && projectCount > 1) return undefined;
  return new AppError(
    'invalid_token',
    422,
    `FCM rejected this registration token (${outcome.errorCode}): register the token the app currently ` +
      `gets from Firebase Messaging for project ${project}`,
    [{ field: 'token', message: outcome.message, fcm_error: outcome.errorCode }],
  );
}
