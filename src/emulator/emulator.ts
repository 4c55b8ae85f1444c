/**
 * The FCM emulator: a local stand-in for Google's OAuth token endpoint and FCM HTTP v1 messages:send, speaking
 * HTTP/2 (cleartext, prior knowledge) and HTTP/1.1 on one port, with fault injection and a record of messages.
 */
import { createPublicKey, type KeyObject, randomBytes, randomUUID } from 'node:crypto';
import { compactVerify, decodeJwt, decodeProtectedHeader, type JWTPayload, errors as joseErrors } from 'jose';
import type { ServiceAccount } from '../push/push-provider.ts';
import { INBOX_CSP, INBOX_CSS, INBOX_HTML, INBOX_JS } from './inbox-page.ts';
import { judgeSendRequest } from './message-model.ts';
import { TopicRegistry } from './topics.ts';
import { type Exchange, listen, type Reply } from './transport.ts';

/** Errors the emulator can be told to answer with; CONNECTION_RESET drops the stream without an answer. */
export type FaultCode =
  | 'UNREGISTERED'
  | 'SENDER_ID_MISMATCH'
  | 'INVALID_ARGUMENT'
  | 'QUOTA_EXCEEDED'
  | 'UNAVAILABLE'
  | 'INTERNAL'
  | 'THIRD_PARTY_AUTH_ERROR'
  | 'CONNECTION_RESET';

export const FAULT_CODES: readonly FaultCode[] = [
  'UNREGISTERED',
  'SENDER_ID_MISMATCH',
  'INVALID_ARGUMENT',
  'QUOTA_EXCEEDED',
  'UNAVAILABLE',
  'INTERNAL',
  'THIRD_PARTY_AUTH_ERROR',
  'CONNECTION_RESET',
];

export interface EmulatorFaults {
  /** Answer this error for this exact device token. */
  tokens?: Record<string, FaultCode>;
  /**
   * Answer this error to the next `remaining` sends (not dry runs) to this exact device token, then succeed
   * again: a burst. The entry leaves when it reaches 0. Checked before `tokens`.
   */
  bursts?: Record<string, { code: FaultCode; remaining: number }>;
  /** Answer this error with this probability (0..1) for any message; checked in order, first hit wins. */
  rates?: Partial<Record<FaultCode, number>>;
  /** Retry-After value (seconds, or an HTTP date) sent with QUOTA_EXCEEDED, UNAVAILABLE and INTERNAL. */
  retryAfter?: number | string;
  /** Delay before answering messages:send, replacing the emulator's `latencyMs`. */
  latencyMs?: number;
}

export interface ReceivedMessage {
  /** 1, 2, 3… in the order received, never reused (not even after a reset): a stable position for paging. */
  seq: number;
  projectId: string;
  message: Record<string, unknown>;
  validateOnly: boolean;
  /** The protocol the request came over: '2.0' or '1.1'. */
  httpVersion: string;
  /** Milliseconds since the epoch. */
  receivedAt: number;
  /** HTTP status the emulator answered (0 when the stream was reset on purpose). */
  status: number;
  /** `projects/…/messages/…` when accepted. */
  messageId?: string;
  /** FCM error code when refused. */
  errorCode?: string;
  /** For an accepted topic or condition message: the tokens subscribed to it when it came, which it reached. */
  deliveredTo?: string[];
}

export interface EmulatorStats {
  tokenRequests: number;
  tokensIssued: number;
  sendRequests: number;
  /** Accepted and not validate_only. */
  delivered: number;
  validated: number;
  /** Refusals by error code (UNAUTHENTICATED and PERMISSION_DENIED included). */
  errors: Record<string, number>;
}

export interface EmulatorAccount {
  client_email: string;
  project_id: string;
  public_key_pem: string;
}

export interface EmulatorOptions {
  host?: string;
  port?: number;
  /** Delay before answering each messages:send. */
  latencyMs?: number;
  /** 'full' keeps messages (the newest `maxRecorded`) and stats; 'counts' keeps only stats. Default 'full'. */
  recording?: 'full' | 'counts';
  maxRecorded?: number;
  /** SETTINGS_MAX_CONCURRENT_STREAMS announced to HTTP/2 clients. Default 1000. */
  maxConcurrentStreams?: number;
  /** expires_in of issued access tokens. Default 3600. */
  tokenLifetimeSeconds?: number;
  /**
   * Projects whose service accounts need no registered key: any well-formed, unexpired, RS256 assertion whose
   * issuer is `…@PROJECT.iam.gserviceaccount.com` gets a token for PROJECT, its signature unchecked. Handy for a
   * quick start with a real key file; anyone who can reach the emulator can then send as that project.
   */
  projects?: readonly string[];
  /** PEM key and certificate: serve HTTPS (HTTP/2 and HTTP/1.1 by ALPN) instead of cleartext. */
  tls?: { key: string; cert: string };
}

export interface Emulator {
  /** Base URL, e.g. http://127.0.0.1:PORT (use as FCM base URL). */
  readonly url: string;
  /** `${url}/token`: put it in the service account's token_uri. */
  readonly tokenUri: string;
  close(): Promise<void>;
  received(filter?: { projectId?: string }): ReceivedMessage[];
  stats(): EmulatorStats;
  /** Forgets recorded messages, stats and faults (accounts and issued tokens stay). */
  reset(): void;
  /** Trusts this key for JWTs whose `iss` is the account's client_email. */
  addServiceAccount(account: EmulatorAccount | ServiceAccount): void;
  setFaults(faults: EmulatorFaults): void;
  /** Current faults (bursts with what is left of them). */
  faults(): EmulatorFaults;
  /**
   * Sets one token's fault, leaving the other faults alone: `count` answers for the next sends (a burst), else
   * always; null clears both kinds for the token.
   */
  setTokenFault(token: string, fault: { code: FaultCode; count?: number | undefined } | null): void;
  /** topic → subscribed tokens of a project (or `project/topic` → tokens of all). */
  subscriptions(projectId?: string): Record<string, string[]>;
  /** Makes every issued access token invalid, as if they had expired (clients then get 401). */
  revokeTokens(): void;
  /** Cuts every open connection but keeps listening, to exercise client reconnects. */
  dropConnections(): void;
}

const FCM_SCOPES = [
  'https://www.googleapis.com/auth/firebase.messaging',
  'https://www.googleapis.com/auth/cloud-platform',
];
const FCM_ERROR_TYPE = 'type.googleapis.com/google.firebase.fcm.v1.FcmError';
const MAX_ISSUED_TOKENS = 100_000;
const CLOCK_SKEW_SECONDS = 300;
const ASSERTION_MAX_LIFETIME_SECONDS = 3600;
const SHORT_LIVED_ERROR =
  'Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.';
/** The audience Google's SDKs put in their assertions, whatever the key file's token_uri. */
export const GOOGLE_TOKEN_URI = 'https://oauth2.googleapis.com/token';
const SERVICE_ACCOUNT_EMAIL = /^[^@\s]+@([a-z0-9][a-z0-9-]*)\.iam\.gserviceaccount\.com$/;
/** The inbox page and its assets: path → [content type, text]. */
const INBOX_FILES: Record<string, [string, string]> = {
  '/': ['text/html; charset=utf-8', INBOX_HTML],
  '/__emulator/inbox.js': ['text/javascript; charset=utf-8', INBOX_JS],
  '/__emulator/inbox.css': ['text/css; charset=utf-8', INBOX_CSS],
};
const IID_BATCH_PATH = /^\/iid\/v1:(batchAdd|batchRemove)$/;
const SUBSCRIPTION_PATH =
  /^\/v1\/projects\/([^/]+)\/registrations\/([^/]+)\/topicSubscriptions(?:\/([^/]+))?$/;
const SEND_PATH = /^\/v1\/projects\/([^/]+)\/messages:send$/;

/** HTTP status, Google status and message of each injectable FCM error (as FCM words them). */
const FAULT_ANSWERS: Record<Exclude<FaultCode, 'CONNECTION_RESET'>, [number, string, string]> = {
  UNREGISTERED: [404, 'NOT_FOUND', 'Requested entity was not found.'],
  SENDER_ID_MISMATCH: [403, 'PERMISSION_DENIED', 'SenderId mismatch'],
  INVALID_ARGUMENT: [400, 'INVALID_ARGUMENT', 'The registration token is not a valid FCM registration token'],
  QUOTA_EXCEEDED: [429, 'RESOURCE_EXHAUSTED', 'Quota exceeded for quota metric "Messages sent" of service.'],
  UNAVAILABLE: [503, 'UNAVAILABLE', 'The service is currently unavailable.'],
  INTERNAL: [500, 'INTERNAL', 'Internal error encountered.'],
  THIRD_PARTY_AUTH_ERROR: [401, 'UNAUTHENTICATED', 'Auth error from APNS or Web Push Service'],
};

/**
 * Token prefixes that fail real sends, so demos can show dead tokens without configuring anything. A
 * validate_only dry run of such a token passes: the server dry-runs every token it registers, and a sandbox
 * user must be able to register a token that will fail at send time (a token configured with setFaults fails
 * dry runs too, as a dead token does on FCM).
 */
const TOKEN_PREFIX_FAULTS: ReadonlyArray<[string, FaultCode]> = [
  ['unregistered-', 'UNREGISTERED'],
  ['invalid-', 'INVALID_ARGUMENT'],
];

/** Starts an emulator listening on host:port (port 0 = any free port). */
export async function createEmulator(options: EmulatorOptions = {}): Promise<Emulator> {
  const state = new EmulatorState(options);
  const listener = await listen(
    {
      host: options.host ?? '127.0.0.1',
      port: options.port ?? 0,
      maxConcurrentStreams: options.maxConcurrentStreams ?? 1000,
      ...(options.tls ? { tls: options.tls } : {}),
    },
    (exchange) => {
      state.handle(exchange).catch((error: unknown) => {
        const message = error instanceof Error ? error.message : String(error);
        exchange.reply(googleError(500, 'INTERNAL', `emulator failure: ${message}`));
      });
    },
  );
  const { url } = listener;
  state.tokenUri = `${url}/token`;
  state.audiences.add(state.tokenUri);

  return {
    url,
    tokenUri: state.tokenUri,
    received: (filter) => state.received(filter?.projectId),
    stats: () => state.snapshot(),
    reset: () => state.reset(),
    addServiceAccount: (account) => state.addAccount(account),
    setFaults: (faults) => state.setFaults(faults),
    faults: () => state.faults(),
    setTokenFault: (token, fault) => state.setTokenFault(token, fault),
    subscriptions: (projectId) => state.topics.list(projectId),
    revokeTokens: () => state.issued.clear(),
    dropConnections: () => listener.dropConnections(),
    close: () => listener.close(),
  };
}

interface IssuedToken {
  clientEmail: string;
  projectId: string;
  expiresAt: number;
}

class EmulatorState {
  tokenUri = '';
  readonly issued = new Map<string, IssuedToken>();
  readonly audiences = new Set([GOOGLE_TOKEN_URI]);
  readonly topics = new TopicRegistry();
  readonly #accounts = new Map<string, { projectId: string; publicKey: KeyObject }>();
  readonly #openProjects: ReadonlySet<string>;
  readonly #latencyMs: number;
  readonly #recording: 'full' | 'counts';
  readonly #tokenLifetimeSeconds: number;
  readonly #log: RingBuffer<ReceivedMessage>;
  #faults: EmulatorFaults = {};
  #stats: EmulatorStats = emptyStats();
  #seq = 0;

  constructor(options: EmulatorOptions) {
    this.#latencyMs = options.latencyMs ?? 0;
    this.#openProjects = new Set(options.projects ?? []);
    this.#recording = options.recording ?? 'full';
    this.#tokenLifetimeSeconds = options.tokenLifetimeSeconds ?? 3600;
    this.#log = new RingBuffer(options.maxRecorded ?? 100_000);
  }

  received(projectId?: string): ReceivedMessage[] {
    const all = this.#log.toArray();
    return projectId === undefined ? all : all.filter((entry) => entry.projectId === projectId);
  }

  snapshot(): EmulatorStats {
    return { ...this.#stats, errors: { ...this.#stats.errors } };
  }

  reset(): void {
    this.clearMessages();
    this.#faults = {};
    this.topics.clear();
  }

  clearMessages(): void {
    this.#log.clear();
    this.#stats = emptyStats();
  }

  addAccount(account: EmulatorAccount | ServiceAccount): void {
    const pem = 'public_key_pem' in account ? account.public_key_pem : account.private_key;
    this.#accounts.set(account.client_email, {
      projectId: account.project_id,
      publicKey: createPublicKey(pem),
    });
  }

  faults(): EmulatorFaults {
    return structuredClone(this.#faults);
  }

  setTokenFault(token: string, fault: { code: FaultCode; count?: number | undefined } | null): void {
    const tokens = { ...this.#faults.tokens };
    const bursts = { ...this.#faults.bursts };
    delete tokens[token];
    delete bursts[token];
    if (fault && fault.count !== undefined) bursts[token] = { code: fault.code, remaining: fault.count };
    else if (fault) tokens[token] = fault.code;
    this.setFaults({ ...this.#faults, tokens, bursts });
  }

  setFaults(faults: EmulatorFaults): void {
    const burstCodes = Object.values(faults.bursts ?? {}).map((b) => b.code);
    for (const code of [
      ...Object.values(faults.tokens ?? {}),
      ...Object.keys(faults.rates ?? {}),
      ...burstCodes,
    ]) {
      if (!FAULT_CODES.includes(code as FaultCode)) {
        throw new Error(`unknown fault code ${code}; expected one of ${FAULT_CODES.join(', ')}`);
      }
    }
    this.#faults = structuredClone(faults);
  }

  async handle(exchange: Exchange): Promise<void> {
    const path = new URL(exchange.url, 'http://emulator').pathname;
    const send = SEND_PATH.exec(path);
    if (send && exchange.method === 'POST') return this.#send(exchange, decodeURIComponent(send[1]!));
    if (path === '/token' && exchange.method === 'POST') return this.#token(exchange);
    const batch = IID_BATCH_PATH.exec(path);
    if (batch && exchange.method === 'POST') return this.#iidBatch(exchange, batch[1] === 'batchAdd');
    const subscription = SUBSCRIPTION_PATH.exec(path);
    if (subscription)
      return this.#subscription(
        exchange,
        subscription.slice(1).map((part) => part && decodeURIComponent(part)),
      );
    if (exchange.method === 'GET' && path in INBOX_FILES) {
      const [type, body] = INBOX_FILES[path]!;
      return exchange.reply({
        status: 200,
        type,
        body,
        headers: {
          'content-security-policy': INBOX_CSP,
          'x-content-type-options': 'nosniff',
          'cache-control': 'no-store',
        },
      });
    }
    if (path.startsWith('/__emulator/')) return this.#control(exchange, path);
    exchange.reply(googleError(404, 'NOT_FOUND', `The emulator has no route ${exchange.method} ${path}`));
  }

  async #token(exchange: Exchange): Promise<void> {
    this.#stats.tokenRequests++;
    const raw = await exchange.readBody();
    if (raw === undefined)
      return exchange.reply(oauthError(413, 'invalid_request', 'Request body too large.'));
    const form = new URLSearchParams(raw);
    if (form.get('grant_type') !== 'urn:ietf:params:oauth:grant-type:jwt-bearer') {
      return exchange.reply(oauthError(400, 'unsupported_grant_type', 'Invalid grant_type.'));
    }
    const checked = await this.#checkAssertion(form.get('assertion') ?? '');
    if ('error' in checked) return exchange.reply(oauthError(400, 'invalid_grant', checked.error));

    const accessToken = `ya29.emulator-${randomBytes(24).toString('base64url')}`;
    if (this.issued.size >= MAX_ISSUED_TOKENS) this.issued.delete(this.issued.keys().next().value!);
    this.issued.set(accessToken, {
      clientEmail: checked.clientEmail,
      projectId: checked.projectId,
      expiresAt: Date.now() + this.#tokenLifetimeSeconds * 1000,
    });
    this.#stats.tokensIssued++;
    exchange.reply({
      status: 200,
      body: { access_token: accessToken, expires_in: this.#tokenLifetimeSeconds, token_type: 'Bearer' },
    });
  }

  /**
   * Verifies a JWT bearer assertion the way Google's token endpoint does, with Google's error wording. The
   * signature is checked against a registered key; an unregistered issuer of an open project (`--project`) is
   * trusted on its word, its claims checked all the same.
   */
  async #checkAssertion(
    assertion: string,
  ): Promise<{ clientEmail: string; projectId: string } | { error: string }> {
    if (assertion.split('.').length !== 3) {
      return { error: 'Invalid JWT: Token must be a short-lived token and in a reasonable timeframe.' };
    }
    let alg: unknown;
    let claims: JWTPayload;
    try {
      alg = decodeProtectedHeader(assertion).alg;
      claims = decodeJwt(assertion);
    } catch {
      return { error: 'Invalid JWT: the header or claims are not base64url JSON.' };
    }
    if (alg !== 'RS256') return { error: 'Invalid JWT: only RS256 is supported.' };
    const issuer = claims.iss;
    if (typeof issuer !== 'string') return { error: 'Invalid grant: account not found' };
    const account = this.#accounts.get(issuer);
    const projectId = account?.projectId ?? this.#openProjectOf(issuer);
    if (projectId === undefined) return { error: 'Invalid grant: account not found' };
    if (account) {
      try {
        await compactVerify(assertion, account.publicKey, { algorithms: ['RS256'] });
      } catch (error) {
        if (error instanceof joseErrors.JWSSignatureVerificationFailed)
          return { error: 'Invalid JWT Signature.' };
        if (error instanceof joseErrors.JOSEError) return { error: `Invalid JWT: ${error.message}` };
        throw error;
      }
    }

    // Google's SDKs sign for Google's token URL whatever the key file's token_uri says; our own clients sign
    // for the emulator's. Either is the token endpoint the assertion was meant for, and only an exact string.
    if (typeof claims.aud !== 'string' || !this.audiences.has(claims.aud)) {
      return {
        error: `Invalid JWT: Failed audience check. The right audience is ${GOOGLE_TOKEN_URI} or ${this.tokenUri}`,
      };
    }
    const now = Math.floor(Date.now() / 1000);
    const { iat, exp } = claims;
    if (
      typeof iat !== 'number' ||
      typeof exp !== 'number' ||
      exp <= now - CLOCK_SKEW_SECONDS ||
      iat > now + CLOCK_SKEW_SECONDS ||
      iat < now - ASSERTION_MAX_LIFETIME_SECONDS - CLOCK_SKEW_SECONDS ||
      // Google also bounds the lifetime the assertion claims for itself, not only its age.
      exp - iat > ASSERTION_MAX_LIFETIME_SECONDS
    ) {
      return { error: SHORT_LIVED_ERROR };
    }
    const scopes = typeof claims.scope === 'string' ? claims.scope.split(' ') : [];
    if (!scopes.some((scope) => FCM_SCOPES.includes(scope))) {
      return { error: `Invalid scope: the assertion must ask for ${FCM_SCOPES[0]}` };
    }
    return { clientEmail: issuer, projectId };
  }

  /** The project of a service-account email (`name@PROJECT.iam.gserviceaccount.com`) when that project is open. */
  #openProjectOf(clientEmail: string): string | undefined {
    const project = SERVICE_ACCOUNT_EMAIL.exec(clientEmail)?.[1];
    return project !== undefined && this.#openProjects.has(project) ? project : undefined;
  }

  async #send(exchange: Exchange, projectId: string): Promise<void> {
    this.#stats.sendRequests++;
    const raw = await exchange.readBody();
    const latency = this.#faults.latencyMs ?? this.#latencyMs;
    if (latency > 0) await new Promise((resolve) => setTimeout(resolve, latency));

    const refused = this.#refuseCaller(exchange, projectId);
    if (refused) return exchange.reply(refused);
    if (raw === undefined)
      return exchange.reply(fcmError(400, 'INVALID_ARGUMENT', 'INVALID_ARGUMENT', 'Request too large.'));

    const request = judgeSendRequest(raw);
    const receivedAt = Date.now();
    const record = (
      reply: Reply | undefined,
      errorCode?: string,
      messageId?: string,
      deliveredTo?: string[],
    ) => {
      if (!('message' in request) || this.#recording !== 'full') return;
      this.#log.push({
        seq: ++this.#seq,
        projectId,
        message: request.message,
        validateOnly: request.validateOnly,
        httpVersion: exchange.httpVersion,
        receivedAt,
        status: reply?.status ?? 0,
        ...(messageId ? { messageId } : {}),
        ...(errorCode ? { errorCode } : {}),
        ...(deliveredTo ? { deliveredTo } : {}),
      });
    };

    if ('error' in request) {
      this.#countError('INVALID_ARGUMENT');
      return exchange.reply(fcmError(400, 'INVALID_ARGUMENT', 'INVALID_ARGUMENT', request.error));
    }
    const fault = this.#faultFor(
      request.target.kind === 'token' ? request.target.value : undefined,
      request.validateOnly,
    );
    if (fault === 'CONNECTION_RESET') {
      this.#countError(fault);
      record(undefined, fault);
      return exchange.reset();
    }
    if (fault) {
      const [status, googleStatus, message] = FAULT_ANSWERS[fault];
      const reply = fcmError(status, googleStatus, fault, message);
      const retryAfter = this.#faults.retryAfter ?? (fault === 'QUOTA_EXCEEDED' ? 60 : undefined);
      if (
        retryAfter !== undefined &&
        (fault === 'QUOTA_EXCEEDED' || fault === 'UNAVAILABLE' || fault === 'INTERNAL')
      ) {
        reply.headers = { 'retry-after': String(retryAfter) };
      }
      this.#countError(fault);
      record(reply, fault);
      return exchange.reply(reply);
    }

    const messageId = `projects/${projectId}/messages/0:${receivedAt}${randomUUID().slice(0, 8)}`;
    if (request.validateOnly) this.#stats.validated++;
    else this.#stats.delivered++;
    const reply: Reply = { status: 200, body: { name: messageId } };
    const { target } = request;
    record(
      reply,
      undefined,
      messageId,
      target.kind === 'token' || request.validateOnly
        ? undefined
        : this.topics.recipients(projectId, { kind: target.kind, value: target.value }),
    );
    exchange.reply(reply);
  }

  /** 401 without a valid access token, 403 for another project than the token's (when one is named). */
  #refuseCaller(exchange: Exchange, projectId?: string): Reply | undefined {
    const caller = this.#authenticate(exchange.headers.authorization);
    if (!caller) {
      this.#countError('UNAUTHENTICATED');
      return googleError(
        401,
        'UNAUTHENTICATED',
        'Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.',
      );
    }
    if (projectId !== undefined && caller.projectId !== projectId) {
      this.#countError('PERMISSION_DENIED');
      return googleError(
        403,
        'PERMISSION_DENIED',
        `Permission 'cloudmessaging.messages.create' denied on resource '//cloudresourcemanager.googleapis.com/projects/${projectId}' (or it may not exist).`,
      );
    }
    return undefined;
  }

  /** Why FCM would refuse this token in a topic subscription (NOT_FOUND, INVALID_ARGUMENT), if it would. */
  #subscriptionProblem(token: string): 'NOT_FOUND' | 'INVALID_ARGUMENT' | undefined {
    if (!/^\S+$/.test(token)) return 'INVALID_ARGUMENT';
    const fault = this.#faultFor(token, false);
    if (fault === 'UNREGISTERED') return 'NOT_FOUND';
    if (fault === 'INVALID_ARGUMENT') return 'INVALID_ARGUMENT';
    return undefined;
  }

  /**
   * The Instance ID API's batchAdd / batchRemove, as the Admin SDKs' legacy topic calls use it: body
   * `{"to": "/topics/NAME", "registration_tokens": [...]}` (at most 1000), answer `{"results": [{}, {"error":
   * "NOT_FOUND"}, …]}` in token order: https://developers.google.com/instance-id/reference/server#manage_relationship_maps_for_multiple_app_instances
   */
  async #iidBatch(exchange: Exchange, add: boolean): Promise<void> {
    const refused = this.#refuseCaller(exchange);
    if (refused) return exchange.reply(refused);
    const projectId = this.#authenticate(exchange.headers.authorization)!.projectId;
    const body = decodeJsonText((await exchange.readBody()) ?? '');
    const to = isRecord(body) ? body.to : undefined;
    const tokens = isRecord(body) ? body.registration_tokens : undefined;
    const topic = typeof to === 'string' ? /^\/topics\/([a-zA-Z0-9\-_.~%]+)$/.exec(to)?.[1] : undefined;
    if (topic === undefined) return exchange.reply({ status: 400, body: { error: 'InvalidTopicName' } });
    if (
      !Array.isArray(tokens) ||
      tokens.length === 0 ||
      tokens.length > 1000 ||
      !tokens.every((token) => typeof token === 'string')
    ) {
      return exchange.reply({ status: 400, body: { error: 'InvalidListOfTokens' } });
    }
    const results = (tokens as string[]).map((token) => {
      const problem = this.#subscriptionProblem(token);
      if (problem) return { error: problem };
      if (!add) {
        this.topics.unsubscribe(projectId, token, topic);
        return {};
      }
      return this.topics.subscribe(projectId, token, topic) ? {} : { error: 'TOO_MANY_TOPICS' };
    });
    exchange.reply({ status: 200, body: { results } });
  }

  /**
   * FCM's registrations API, what firebase-admin 14 subscribes through: POST
   * /v1/projects/P/registrations/TOKEN/topicSubscriptions?topic_name=NAME, and DELETE
   * …/topicSubscriptions/NAME?allow_missing=true; errors in Google's format (NOT_FOUND for a dead token).
   */
  async #subscription(
    exchange: Exchange,
    [projectId, token, named]: Array<string | undefined>,
  ): Promise<void> {
    const refused = this.#refuseCaller(exchange, projectId);
    if (refused) return exchange.reply(refused);
    await exchange.readBody();
    const query = new URL(exchange.url, 'http://emulator').searchParams;
    const topic = exchange.method === 'POST' && !named ? query.get('topic_name') : named;
    if (!topic || !/^[a-zA-Z0-9\-_.~%]+$/.test(topic) || !['POST', 'DELETE'].includes(exchange.method)) {
      return exchange.reply(googleError(400, 'INVALID_ARGUMENT', 'Invalid topic name.'));
    }
    const problem = this.#subscriptionProblem(token!);
    if (problem === 'NOT_FOUND') {
      return exchange.reply(googleError(404, 'NOT_FOUND', 'Requested entity was not found.'));
    }
    if (problem) {
      return exchange.reply(googleError(400, 'INVALID_ARGUMENT', 'The registration token is not valid.'));
    }
    const name = `projects/${projectId}/registrations/${token}/topicSubscriptions/${topic}`;
    if (exchange.method === 'POST') {
      if (!this.topics.subscribe(projectId!, token!, topic)) {
        return exchange.reply(googleError(400, 'TOO_MANY_TOPICS', 'Too many topics for this token.'));
      }
      return exchange.reply({ status: 200, body: { name } });
    }
    const removed = this.topics.unsubscribe(projectId!, token!, topic);
    if (!removed && query.get('allow_missing') !== 'true') {
      return exchange.reply(googleError(404, 'NOT_FOUND', 'Requested entity was not found.'));
    }
    exchange.reply({ status: 200, body: {} });
  }

  #authenticate(authorization: string | undefined): IssuedToken | undefined {
    const match = /^Bearer\s+(\S+)$/i.exec(authorization ?? '');
    const token = match ? this.issued.get(match[1]!) : undefined;
    if (!token || token.expiresAt <= Date.now()) return undefined;
    return token;
  }

  #faultFor(deviceToken: string | undefined, validateOnly: boolean): FaultCode | undefined {
    if (deviceToken !== undefined) {
      const burst = validateOnly ? undefined : this.#faults.bursts?.[deviceToken];
      if (burst) {
        burst.remaining -= 1;
        if (burst.remaining <= 0) delete this.#faults.bursts![deviceToken];
        return burst.code;
      }
      const configured = this.#faults.tokens?.[deviceToken];
      if (configured) return configured;
      if (!validateOnly) {
        for (const [prefix, code] of TOKEN_PREFIX_FAULTS) if (deviceToken.startsWith(prefix)) return code;
      }
    }
    for (const [code, probability] of Object.entries(this.#faults.rates ?? {})) {
      if (probability !== undefined && Math.random() < probability) return code as FaultCode;
    }
    return undefined;
  }

  #countError(code: string): void {
    this.#stats.errors[code] = (this.#stats.errors[code] ?? 0) + 1;
  }

  async #control(exchange: Exchange, path: string): Promise<void> {
    const route = `${exchange.method} ${path}`;
    if (route === 'GET /__emulator/messages') {
      const projectId = new URL(exchange.url, 'http://emulator').searchParams.get('project_id') ?? undefined;
      const messages = this.received(projectId);
      return exchange.reply({ status: 200, body: { count: messages.length, messages } });
    }
    if (route === 'DELETE /__emulator/messages') {
      this.clearMessages();
      return exchange.reply({ status: 204, body: undefined });
    }
    if (route === 'GET /__emulator/topics') {
      const projectId = new URL(exchange.url, 'http://emulator').searchParams.get('project_id') ?? undefined;
      return exchange.reply({ status: 200, body: { topics: this.topics.list(projectId) } });
    }
    if (route === 'GET /__emulator/stats') return exchange.reply({ status: 200, body: this.snapshot() });
    if (route === 'POST /__emulator/reset') {
      this.reset();
      return exchange.reply({ status: 204, body: undefined });
    }
    if (route === 'GET /__emulator/faults') return exchange.reply({ status: 200, body: this.#faults });
    if (route === 'PUT /__emulator/faults' || route === 'POST /__emulator/accounts') {
      const body = decodeJsonText((await exchange.readBody()) ?? '');
      if (typeof body !== 'object' || body === null)
        return exchange.reply(controlError(400, 'expected a JSON object'));
      try {
        if (route === 'PUT /__emulator/faults') {
          this.setFaults(body as EmulatorFaults);
          return exchange.reply({ status: 200, body: this.#faults });
        }
        const account = body as Partial<EmulatorAccount>;
        if (!account.client_email || !account.project_id || !account.public_key_pem) {
          return exchange.reply(
            controlError(400, 'client_email, project_id and public_key_pem are required'),
          );
        }
        this.addAccount(account as EmulatorAccount);
        return exchange.reply({ status: 201, body: { client_email: account.client_email } });
      } catch (error) {
        return exchange.reply(controlError(400, error instanceof Error ? error.message : String(error)));
      }
    }
    exchange.reply(controlError(404, `no control route ${route}`));
  }
}

/** Google's error body for an FCM failure, with the FcmError detail FCM adds. */
function fcmError(status: number, googleStatus: string, errorCode: string, message: string): Reply {
  return {
    status,
    body: {
      error: {
        code: status,
        message,
        status: googleStatus,
        details: [{ '@type': FCM_ERROR_TYPE, errorCode }],
      },
    },
  };
}

/** Google's error body for failures outside FCM proper (authentication, routing). */
function googleError(status: number, googleStatus: string, message: string): Reply {
  return { status, body: { error: { code: status, message, status: googleStatus } } };
}

function oauthError(status: number, error: string, description: string): Reply {
  return { status, body: { error, error_description: description } };
}

function controlError(status: number, message: string): Reply {
  return { status, body: { error: { code: status, message } } };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function decodeJsonText(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function emptyStats(): EmulatorStats {
  return { tokenRequests: 0, tokensIssued: 0, sendRequests: 0, delivered: 0, validated: 0, errors: {} };
}

/** Keeps the newest `capacity` items, so a long benchmark cannot exhaust memory. */
class RingBuffer<T> {
  readonly #items: T[] = [];
  readonly #capacity: number;
  #start = 0;

  constructor(capacity: number) {
    this.#capacity = Math.max(0, capacity);
  }

  push(item: T): void {
    if (this.#capacity === 0) return;
    if (this.#items.length < this.#capacity) {
      this.#items.push(item);
      return;
    }
    this.#items[this.#start] = item;
    this.#start = (this.#start + 1) % this.#capacity;
  }

  toArray(): T[] {
    return [...this.#items.slice(this.#start), ...this.#items.slice(0, this.#start)];
  }

  clear(): void {
    this.#items.length = 0;
    this.#start = 0;
  }
}
