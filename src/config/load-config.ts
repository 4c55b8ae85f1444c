/** The only reader of process.env: validates every setting at start-up and hands out a frozen, typed config. */
import { readFileSync } from 'node:fs';
import { type Config, configFromEnv } from './config.ts';
import { envSchema } from './env.schema.ts';
import { ConfigError } from './errors.ts';

/** Secrets that may also come from a file named by `<NAME>_FILE` (Docker and Kubernetes secrets). */
export const FILE_SECRETS = [
  'ENCRYPTION_KEY',
  'ENCRYPTION_KEYS_PREVIOUS',
  'DATABASE_URL',
  'REDIS_URL',
  'METRICS_TOKEN',
  'SENTRY_DSN',
] as const;

/** Reads `<NAME>_FILE` into `<NAME>` (trailing newline dropped); setting both is an error. */
function withFileSecrets(env: Record<string, string>): Record<string, string> {
  const out = { ...env };
  for (const name of FILE_SECRETS) {
    const file = env[`${name}_FILE`];
    if (file === undefined) continue;
    if (env[name] !== undefined)
      throw new ConfigError(`Invalid configuration:\n  ${name}: set ${name} or ${name}_FILE, not both`);
    try {
      out[name] = readFileSync(file, 'utf8').replace(/\r?\n$/, '');
    } catch (error) {
      throw new ConfigError(
        `Invalid configuration:\n  ${name}_FILE: cannot read ${file} (${(error as NodeJS.ErrnoException).code ?? 'error'})`,
      );
    }
    delete out[`${name}_FILE`];
  }
  return out;
}

/** Validates an environment (process.env by default) and returns the config, or throws naming every bad variable. */
export function loadConfig(source: NodeJS.ProcessEnv = process.env): Readonly<Config> {
  const env = withFileSecrets(
    Object.fromEntries(Object.entries(source).filter(([, v]) => v !== undefined && v !== '')) as Record<
      string,
      string
    >,
  );
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((issue) => `  ${issue.path.join('.')}: ${issue.message}`);
    throw new ConfigError(`Invalid configuration:\n${lines.join('\n')}`);
  }
  return configFromEnv(parsed.data);
}

/** What a command that calls a running server's API reads: its URL and the API client to call it as. */
export interface ApiClientEnv {
  url: string | undefined;
  clientId: string | undefined;
  clientToken: string | undefined;
}

/** FCM_SERVER_URL, FCM_SERVER_CLIENT_ID and FCM_SERVER_CLIENT_TOKEN (the client token from a file with _FILE). */
export function loadApiClientEnv(source: NodeJS.ProcessEnv = process.env): ApiClientEnv {
  const tokenFile = source.FCM_SERVER_CLIENT_TOKEN_FILE;
  return {
    url: source.FCM_SERVER_URL || undefined,
    clientId: source.FCM_SERVER_CLIENT_ID || undefined,
    clientToken: tokenFile
      ? readFileSync(tokenFile, 'utf8').replace(/\r?\n$/, '')
      : source.FCM_SERVER_CLIENT_TOKEN || undefined,
  };
}
