/** The error a bad configuration stops the process with: its message names each wrong variable. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}
