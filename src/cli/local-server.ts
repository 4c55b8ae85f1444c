/**
 * The CLI's way to the embedded database while a server holds it. One process owns a PGlite data directory, so
 * the server that starts on one publishes its URL and a random secret in DATA_DIR/server.json (mode 0600: only
 * its user can read it), and the admin commands call that server's /internal routes with the secret instead of
 * opening the database. Without a running server (or on PostgreSQL) they open the database themselves.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from '../config/index.ts';
import { type Db, openDatabase } from '../db/client.ts';
import { AppError, type ErrorDetail } from '../lib/errors.ts';

export interface LocalServer {
  url: string;
  pid: number;
  secret: string;
}

const fileOf = (dataDir: string) => join(dataDir, 'server.json');

/** A fresh secret for the internal routes of a server about to start. */
export const newLocalSecret = (): string => randomBytes(32).toString('base64url');

/** Writes DATA_DIR/server.json for the CLI to find, and removes it when this process exits. */
export function publishLocalServer(dataDir: string, url: string, secret: string): void {
  writeFileSync(fileOf(dataDir), JSON.stringify({ url, pid: process.pid, secret }), { mode: 0o600 });
  process.once('exit', () => rmSync(fileOf(dataDir), { force: true }));
}

/** The server published in the data directory, if its process is still alive. */
export function readLocalServer(dataDir: string): LocalServer | undefined {
  const file = fileOf(dataDir);
  if (!existsSync(file)) return undefined;
  const server = JSON.parse(readFileSync(file, 'utf8')) as LocalServer;
  try {
    process.kill(server.pid, 0);
    return server;
  } catch {
    return undefined;
  }
}

/** Calls the running server's internal admin route; its error (in our format) is thrown as the AppError it was. */
export async function callLocalServer<T>(server: LocalServer, path: string, body: object): Promise<T> {
  const response = await fetch(`${server.url.replace('0.0.0.0', '127.0.0.1')}/internal${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-admin-secret': server.secret },
    body: JSON.stringify(body),
  });
  const text = await response.text();
  if (!response.ok) {
    let body: { error?: { code: string; message: string; details: ErrorDetail[] } } = {};
    try {
      body = JSON.parse(text) as typeof body;
    } catch {
      // Not our error format: report the raw answer below.
    }
    if (body.error)
      throw new AppError(body.error.code, response.status, body.error.message, body.error.details);
    throw new Error(`the running server refused: ${response.status} ${text}`);
  }
  return JSON.parse(text) as T;
}

/**
 * Runs an admin command where the data is: through the running server when one holds the embedded database,
 * otherwise on a database handle of its own.
 */
export async function runAdmin<T>(
  config: Readonly<Config>,
  viaServer: (server: LocalServer) => Promise<T>,
  direct: (db: Db) => Promise<T>,
): Promise<T> {
  const local = config.database.url ? undefined : readLocalServer(config.database.dataDir);
  if (local) return viaServer(local);
  const database = await openDatabase({ url: config.database.url, dataDir: config.database.dataDir });
  try {
    return await direct(database.db);
  } finally {
    await database.close();
  }
}
