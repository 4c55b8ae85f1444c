/** The pino logger: JSON, with every secret we handle redacted wherever it appears in a log object. */
import pino, { type Logger } from 'pino';

export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers["client-token"]',
  'req.headers.cookie',
  '*.token',
  '*.client_token',
  '*.clientToken',
  '*.private_key',
  '*.service_account',
  '*.receipt_token',
  '*.secret',
];

export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino({ level, redact: { paths: REDACT_PATHS, censor: '[redacted]' } }, destination);
}
