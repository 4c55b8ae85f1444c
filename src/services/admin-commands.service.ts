/**
 * The command line's admin use cases (create-client, rotate-client-token, purge), run on whichever database
 * handle owns the data: the CLI's own, or, in embedded mode while a server holds the data directory, the
 * server's (through its internal routes). Changes to a client get an audit row with actor null: the command line.
 */
import { recordAudit } from './audit.service.ts';
import { createClient, rotateClientToken, type Scope } from './clients.service.ts';
import type { ServiceDeps } from './deps.ts';
import { type PurgeResult, purgeSoftDeleted } from './retention.service.ts';

/** The CLI runs these on a bare database, without a server's other dependencies. */
type AdminDeps = Pick<ServiceDeps, 'db'>;

export interface NewClientInput {
  name: string;
  scopes: Scope[];
  ipAllowlist?: string[] | undefined;
  /** ISO 8601. */
  expiresAt?: string | undefined;
}

export interface IssuedToken {
  clientId: string;
  clientToken: string;
  /** When the previous token stops working (rotation with a grace period). */
  previousTokenExpiresAt?: string | null;
}

const cliAudit = (action: string, clientId: string, details: Record<string, unknown>) => ({
  tenantId: clientId,
  actorId: null,
  action,
  targetType: 'client',
  targetId: clientId,
  ip: null,
  requestId: null,
  details: { via: 'cli', ...details },
});

export const adminCommands = {
  async createClient(deps: AdminDeps, input: NewClientInput): Promise<IssuedToken> {
    const created = await createClient(deps, {
      name: input.name,
      scopes: input.scopes,
      ipAllowlist: input.ipAllowlist,
      expiresAt: input.expiresAt === undefined ? undefined : new Date(input.expiresAt),
    });
    await recordAudit(
      deps,
      cliAudit('client.create', created.clientId, {
        fields: Object.keys(input).filter((k) => input[k as keyof NewClientInput] !== undefined),
      }),
    );
    return { clientId: created.clientId, clientToken: created.clientToken };
  },

  async rotateClientToken(
    deps: AdminDeps,
    id: string,
    graceSeconds: number | undefined,
  ): Promise<IssuedToken> {
    const rotated = await rotateClientToken(deps, id, graceSeconds);
    await recordAudit(deps, cliAudit('client.rotate', id, { grace_seconds: graceSeconds ?? null }));
    return {
      clientId: rotated.client.id,
      clientToken: rotated.clientToken,
      previousTokenExpiresAt: rotated.client.previous_token_expires_at,
    };
  },

  purge(deps: AdminDeps, retentionDays: number): Promise<PurgeResult> {
    return purgeSoftDeleted(deps, { retentionDays });
  },
};
