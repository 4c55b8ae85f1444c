/** The configuration: read once from the environment (load-config.ts), validated, frozen and typed. */
export type { Config } from './config.ts';
export { parseEncryptionKey } from './encryption-key.ts';
export { ENV_VARIABLES, type Env } from './env.schema.ts';
export { ConfigError } from './errors.ts';
export { type ApiClientEnv, FILE_SECRETS, loadApiClientEnv, loadConfig } from './load-config.ts';
