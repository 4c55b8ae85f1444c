/**
 * One contestant of bench/fcm.bench.ts, in a process of its own so that its CPU time is its own: sends N
 * messages in calls of 500, `parallel` calls at a time, and prints one JSON line {ms, cpuUs, sent, failed}.
 *
 *   ours:  our FcmProvider (src/push/fcm.provider.ts), one `send` per call, as a send job makes it.
 *   admin: firebase-admin's messaging().sendEach; run with `--import bin/emulator-preload.mjs`, which sends
 *          its connections to Google's hosts to the emulator.
 *   raw:   node:http2 alone, one POST a message over FCM_HTTP2_SESSIONS-like sessions: the floor.
 * All three talk TLS to the emulator, trusting its certificate through NODE_EXTRA_CA_CERTS.
 */
import { randomBytes } from 'node:crypto';
import http2 from 'node:http2';
import { FcmProvider } from '../../src/push/fcm.provider.ts';
import { AccessTokenCache } from '../../src/push/oauth.ts';
import type { FcmMessage, ServiceAccount } from '../../src/push/push-provider.ts';

export type Contestant = 'ours' | 'admin' | 'raw';

export interface SenderPlan {
  contestant: Contestant;
  messages: number;
  /** Messages sent first and not counted (connections, token, JIT). */
  warmup: number;
  parallel: number;
  batch: number;
  sessions: number;
  /** The emulator's https:// origin (ours, raw); admin reaches it through the preload. */
  baseUrl: string;
  account: ServiceAccount;
}

export interface SenderResult {
  ms: number;
  cpuUs: number;
  sent: number;
  failed: number;
}

/** Sends one batch; answers how many succeeded. */
type SendBatch = (messages: FcmMessage[]) => Promise<number>;

const message = (): FcmMessage => ({
  token: `${randomBytes(11).toString('base64url')}:APA91b${randomBytes(105).toString('base64url')}`,
  notification: { title: 'Benchmark', body: 'The same message through every sender' },
  data: { kind: 'bench' },
});

async function ours(plan: SenderPlan): Promise<{ send: SendBatch; close: () => Promise<void> }> {
  const provider = new FcmProvider({ baseUrl: plan.baseUrl, sessions: plan.sessions });
  return {
    send: async (batch) =>
      (await provider.send(plan.account, batch)).filter((outcome) => outcome.kind === 'sent').length,
    close: () => provider.close(),
  };
}

async function admin(plan: SenderPlan): Promise<{ send: SendBatch; close: () => Promise<void> }> {
  const { cert, deleteApp, initializeApp } = await import('firebase-admin/app');
  const { getMessaging } = await import('firebase-admin/messaging');
  type Message = import('firebase-admin/messaging').Message;
  const app = initializeApp({
    credential: cert({
      projectId: plan.account.project_id,
      clientEmail: plan.account.client_email,
      privateKey: plan.account.private_key,
    }),
    projectId: plan.account.project_id,
  });
  const messaging = getMessaging(app);
  return {
    // Our FcmMessage is FCM's v1 JSON, which is what sendEach takes (its ApnsPayload type insists on `aps`).
    send: async (batch) => (await messaging.sendEach(batch as Message[])).successCount,
    close: () => deleteApp(app),
  };
}

async function raw(plan: SenderPlan): Promise<{ send: SendBatch; close: () => Promise<void> }> {
  const token = await new AccessTokenCache().getToken(plan.account);
  const sessions = Array.from({ length: plan.sessions }, () => http2.connect(plan.baseUrl));
  const path = `/v1/projects/${plan.account.project_id}/messages:send`;
  let next = 0;
  const post = (body: string) =>
    new Promise<boolean>((resolve) => {
      const stream = sessions[next++ % sessions.length]!.request({
        ':method': 'POST',
        ':path': path,
        authorization: `Bearer ${token}`,
        'content-type': 'application/json',
      });
      let status = 0;
      stream.on('response', (headers) => {
        status = Number(headers[':status']);
      });
      stream.on('data', () => {});
      stream.on('end', () => resolve(status === 200));
      stream.on('error', () => resolve(false));
      stream.end(body);
    });
  return {
    send: async (batch) =>
      (await Promise.all(batch.map((m) => post(JSON.stringify({ message: m }))))).filter(Boolean).length,
    close: async () => {
      for (const session of sessions) session.close();
    },
  };
}

/** `total` messages in batches of `plan.batch`, made before the clock starts. */
function batchesOf(plan: SenderPlan, total: number): FcmMessage[][] {
  const batches: FcmMessage[][] = [];
  for (let done = 0; done < total; done += plan.batch) {
    batches.push(Array.from({ length: Math.min(plan.batch, total - done) }, message));
  }
  return batches;
}

/** Sends the batches, `parallel` of them in flight; answers how many messages succeeded. */
async function sendAll(send: SendBatch, plan: SenderPlan, batches: FcmMessage[][]): Promise<number> {
  let sent = 0;
  let index = 0;
  const lane = async () => {
    while (index < batches.length) {
      // Not `sent += await …`: that reads `sent` before the await and loses the other lanes' counts.
      const succeeded = await send(batches[index++]!);
      sent += succeeded;
    }
  };
  await Promise.all(Array.from({ length: plan.parallel }, lane));
  return sent;
}

const plan = JSON.parse(process.argv[2]!) as SenderPlan;
const contestants = { ours, admin, raw };
const sender = await contestants[plan.contestant](plan);
await sendAll(sender.send, plan, batchesOf(plan, plan.warmup));
const measured = batchesOf(plan, plan.messages);
const cpuBefore = process.cpuUsage();
const started = performance.now();
const sent = await sendAll(sender.send, plan, measured);
const ms = performance.now() - started;
const cpu = process.cpuUsage(cpuBefore);
await sender.close();
const result: SenderResult = { ms, cpuUs: cpu.user + cpu.system, sent, failed: plan.messages - sent };
console.log(JSON.stringify(result));
