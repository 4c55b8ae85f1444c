/** Firebase projects per tenant: service-account JSON validated, stored encrypted, never returned. */
import { createPrivateKey } from 'node:crypto';
import type { Executor } from '../db/client.ts';
import {
  deleteFirebaseProject,
  type FirebaseProjectRow,
  findDefaultFirebaseProject,
  findFirebaseProject,
  findFirebaseProjectByProjectId,
  insertFirebaseProject,
  listFirebaseProjectPage,
  setDefaultFirebaseProject,
  updateFirebaseProjectCredentials,
} from '../db/firebase-projects.repository.ts';
import type { Cipher } from '../lib/crypto.ts';
import { AppError, invalid, notFound } from '../lib/errors.ts';
import { uuidv7 } from '../lib/ids.ts';
import type { ServiceAccount } from '../push/push-provider.ts';
import type { ServiceDeps } from './deps.ts';
import { type PageView, pageView } from './views.ts';

/** The public view: never the key. */
export interface FirebaseProjectView {
  id: string;
  project_id: string;
  client_email: string;
  private_key_id: string | null;
  is_default: boolean;
  created_at: string;
  updated_at: string;
}

export function toView(row: FirebaseProjectRow): FirebaseProjectView {
  return {
    id: row.id,
    project_id: row.projectId,
    client_email: row.clientEmail,
    private_key_id: row.privateKeyId,
    is_default: row.isDefault,
    created_at: row.createdAt.toISOString(),
    updated_at: row.updatedAt.toISOString(),
  };
}

/** Checks a service-account JSON the way Google would use it; the error names the field. */
export function parseServiceAccount(value: unknown): ServiceAccount {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw invalid('service_account must be the JSON object of a Google service-account key file');
  }
  const json = value as Record<string, unknown>;
  const problems: { field: string; message: string }[] = [];
  const str = (field: string) => {
    const v = json[field];
    if (typeof v !== 'string' || v.length === 0) {
      problems.push({
        field: `service_account.${field}`,
        message: 'is required and must be a non-empty string',
      });
      return '';
    }
    return v;
  };
  if (json.type !== 'service_account') {
    problems.push({ field: 'service_account.type', message: 'must be "service_account"' });
  }
  const projectId = str('project_id');
  const clientEmail = str('client_email');
  const privateKey = str('private_key');
  const tokenUri =
    typeof json.token_uri === 'string' ? json.token_uri : 'https://oauth2.googleapis.com/token';
  if (projectId && !/^[a-z][a-z0-9-]{4,61}[a-z0-9]$/.test(projectId)) {
    problems.push({ field: 'service_account.project_id', message: 'is not a valid Google Cloud project id' });
  }
  if (clientEmail && !/^[^@\s]+@[^@\s]+$/.test(clientEmail)) {
    problems.push({ field: 'service_account.client_email', message: 'must be an email address' });
  }
  if (!/^https?:\/\/[^\s]+$/.test(tokenUri)) {
    problems.push({ field: 'service_account.token_uri', message: 'must be an http(s) URL' });
  }
  if (privateKey) {
    try {
      const key = createPrivateKey(privateKey);
      if (key.asymmetricKeyType !== 'rsa') {
        problems.push({ field: 'service_account.private_key', message: 'must be an RSA private key' });
      }
    } catch {
      problems.push({
        field: 'service_account.private_key',
        message: 'is not a PEM private key that can be parsed',
      });
    }
  }
  if (problems.length > 0) throw invalid('service account JSON is not valid', problems);
  const privateKeyId = json.private_key_id;
  return {
    type: 'service_account',
    project_id: projectId,
    client_email: clientEmail,
    private_key: privateKey,
    ...(typeof privateKeyId === 'string' && privateKeyId ? { private_key_id: privateKeyId } : {}),
    token_uri: tokenUri,
  };
}

/**
 * Registers (or, for a project id the tenant already has, replaces the key of) a Firebase project. The first
 * project of a tenant becomes its default.
 */
export async function registerFirebaseProject(
  deps: ServiceDeps,
  tenantId: string,
  input: { serviceAccount: unknown; isDefault?: boolean | undefined },
): Promise<{ project: FirebaseProjectView; created: boolean }> {
  const account = parseServiceAccount(input.serviceAccount);
  const values = {
    clientEmail: account.client_email,
    privateKeyId: account.private_key_id ?? null,
    credentialsCiphertext: deps.cipher.encrypt(JSON.stringify(account)),
  };
  return deps.db.transaction(async (tx) => {
    const existing = await findFirebaseProjectByProjectId(tx, tenantId, account.project_id);
    let row: FirebaseProjectRow;
    let created = false;
    if (existing) {
      row = (await updateFirebaseProjectCredentials(tx, tenantId, existing.id, values))!;
    } else {
      const hasDefault = (await findDefaultFirebaseProject(tx, tenantId)) !== undefined;
      row = await insertFirebaseProject(tx, {
        id: uuidv7(),
        apiClientId: tenantId,
        projectId: account.project_id,
        isDefault: false,
        ...values,
      });
      created = true;
      if (!hasDefault) input.isDefault = true;
    }
    if (input.isDefault) {
      await setDefaultFirebaseProject(tx, tenantId, row.id);
      row = (await findFirebaseProject(tx, tenantId, row.id))!;
    }
    return { project: toView(row), created };
  });
}

export async function listProjectPage(
  deps: ServiceDeps,
  tenantId: string,
  limit: number,
  cursor: string | undefined,
): Promise<PageView<FirebaseProjectView>> {
  return pageView(await listFirebaseProjectPage(deps.db, tenantId, limit, cursor), toView);
}

export async function getProject(
  deps: ServiceDeps,
  tenantId: string,
  id: string,
): Promise<FirebaseProjectView> {
  const row = await findFirebaseProject(deps.db, tenantId, id);
  if (!row) throw notFound('firebase project');
  return toView(row);
}

export async function makeDefault(
  deps: ServiceDeps,
  tenantId: string,
  id: string,
): Promise<FirebaseProjectView> {
  return deps.db.transaction(async (tx) => {
    if (!(await findFirebaseProject(tx, tenantId, id))) throw notFound('firebase project');
    await setDefaultFirebaseProject(tx, tenantId, id);
    return toView((await findFirebaseProject(tx, tenantId, id))!);
  });
}

export async function removeProject(deps: ServiceDeps, tenantId: string, id: string): Promise<void> {
  if (!(await deleteFirebaseProject(deps.db, tenantId, id))) throw notFound('firebase project');
}

/**
 * Which Firebase project a send uses: the one named, else the tenant's default, else none (the server-wide
 * default account). Throws when the tenant has none and the server has no default either.
 */
export async function chooseProjectForSend(
  ex: Executor,
  tenantId: string,
  requested: string | undefined,
  serverDefault: ServiceAccount | undefined,
): Promise<string | null> {
  if (requested !== undefined) {
    const row = await findFirebaseProject(ex, tenantId, requested);
    if (!row) throw notFound('firebase project');
    return row.id;
  }
  const row = await findDefaultFirebaseProject(ex, tenantId);
  if (row) return row.id;
  return requireServerDefault(serverDefault);
}

/**
 * For a send with no Firebase project of the tenant's: the server-wide account (null: send with it), or 422
 * firebase_project_required when there is none either.
 */
export function requireServerDefault(serverDefault: ServiceAccount | undefined): null {
  if (serverDefault) return null;
  throw new AppError(
    'firebase_project_required',
    422,
    'register a Firebase service account (POST /api/v1/firebase-projects/) before sending',
  );
}

/**
 * The service account a notification sends with: the server's default when it names no Firebase project, its
 * project's (decrypted) otherwise, undefined when that project was removed since.
 */
export function accountForSend(
  cipher: Cipher,
  firebaseProjectId: string | null,
  credentialsCiphertext: string | null,
  serverDefault: ServiceAccount | undefined,
): ServiceAccount | undefined {
  if (firebaseProjectId === null) return serverDefault;
  return credentialsCiphertext === null
    ? undefined
    : (JSON.parse(cipher.decrypt(credentialsCiphertext)) as ServiceAccount);
}
