/**
 * The real firebase-admin SDK, run by test/firebase-admin.test.ts in a child process started with
 * `--import bin/emulator-preload.mjs`, so that its connections to Google's hosts reach the FCM emulator.
 * Reads a plan (JSON, argv[2]): the service account and the calls to make; prints one JSON line of outcomes.
 */
import { cert, deleteApp, initializeApp } from 'firebase-admin/app';
import { getMessaging } from 'firebase-admin/messaging';

const plan = JSON.parse(process.argv[2]);
const app = initializeApp({
  credential: cert({ projectId: plan.projectId, clientEmail: plan.clientEmail, privateKey: plan.privateKey }),
  projectId: plan.projectId,
});
const messaging = getMessaging(app);

/** What a call ended with: a message id, or the SDK's error code with the answer's Retry-After. */
const failure = (error) => ({
  error: error.code,
  retryAfter: error.httpResponse?.headers?.['retry-after'] ?? null,
});

const outcomes = [];
for (const call of plan.calls) {
  try {
    if (call.kind === 'send') {
      outcomes.push({ id: await messaging.send(call.message) });
    } else if (call.kind === 'sendEach') {
      const batch = await messaging.sendEach(call.messages);
      outcomes.push({
        each: batch.responses.map((response) =>
          response.success ? { id: response.messageId } : failure(response.error),
        ),
      });
    } else if (call.kind === 'topics') {
      // subscribeToTopic / unsubscribeFromTopic (FCM's registrations API), or their *Legacy twins (Instance ID).
      const result = await messaging[call.method](call.tokens, call.topic);
      outcomes.push({
        successCount: result.successCount,
        failureCount: result.failureCount,
        errors: result.errors.map((item) => ({ index: item.index, code: item.error.code })),
      });
    } else {
      throw new Error(`unknown call ${call.kind}`);
    }
  } catch (error) {
    outcomes.push(failure(error));
  }
}
await deleteApp(app);
console.log(JSON.stringify(outcomes));
