/**
 * `fcm-server import devices FILE.csv|FILE.ndjson`: sends a file of devices to a running server's
 * POST /api/v1/devices/import, in requests of up to 10,000 lines, with a progress bar (plain lines when the output
 * is not a terminal), a summary, and the rejected lines written to a file.
 *
 * It calls the HTTP API rather than the database on purpose: the server's API is where tenancy, validation,
 * encryption and rate limits live, so an import through the CLI is judged exactly as one through the API, works
 * against a remote server, and never needs the encryption key or database credentials on the importing machine.
 */
import { createReadStream, createWriteStream, statSync, type WriteStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { parse } from 'csv-parse';
import { loadApiClientEnv } from '../config/index.ts';
import { defineCommand, UsageError } from './command.ts';

/** The CSV header names: the fields of POST /devices; `tags` holds several tags separated by `|`. */
export const CSV_COLUMNS = [
  'platform',
  'token',
  'phone_number',
  'external_id',
  'profile_id',
  'app_version',
  'os_version',
  'model',
  'timezone',
  'locale',
  'tags',
] as const;

const MAX_LINES_PER_REQUEST = 10_000;
/** Below the server's 20,480,000-byte limit for an import body, with room to spare. */
const MAX_BYTES_PER_REQUEST = 16 * 1024 * 1024;
const MAX_ATTEMPTS = 8;

interface SourceLine {
  /** Where it is in the file (1-based; the header of a CSV file is line 1). */
  line: number;
  /** One line of NDJSON: the device as JSON, or the file's text as it was when it is not JSON. */
  json: string;
}

interface LineResult {
  line: number;
  status: 'created' | 'updated' | 'rejected';
  error: { code: string; message: string; details: unknown[] } | null;
}

interface Totals {
  lines: number;
  created: number;
  updated: number;
  rejected: number;
}

/** NDJSON: every non-blank line, as it is (a line that is not JSON is the server's to reject, in its result). */
async function* ndjsonLines(file: string, onBytes: (n: number) => void): AsyncGenerator<SourceLine> {
  const stream = createReadStream(file);
  stream.on('data', (chunk) => onBytes(chunk.length));
  let line = 0;
  for await (const text of createInterface({ input: stream, crlfDelay: Number.POSITIVE_INFINITY })) {
    line += 1;
    if (text.trim() !== '') yield { line, json: text };
  }
}

/** CSV with a header row naming CSV_COLUMNS; empty cells are left out, `tags` splits on `|`. */
async function* csvLines(file: string, onBytes: (n: number) => void): AsyncGenerator<SourceLine> {
  const stream = createReadStream(file);
  stream.on('data', (chunk) => onBytes(chunk.length));
  const parser = stream.pipe(
    parse({
      columns: (header: string[]) => {
        const names = header.map((h) => h.trim());
        const unknown = names.filter((n) => !(CSV_COLUMNS as readonly string[]).includes(n));
        if (unknown.length > 0) {
          throw new UsageError(
            `unknown CSV column(s) ${unknown.join(', ')}; columns: ${CSV_COLUMNS.join(', ')}`,
          );
        }
        return names;
      },
      bom: true,
      info: true,
      skip_empty_lines: true,
      relax_column_count: true,
      trim: true,
    }),
  );
  for await (const { record, info } of parser as AsyncIterable<{
    record: Record<string, string>;
    info: { lines: number };
  }>) {
    const device: Record<string, unknown> = {};
    for (const [name, value] of Object.entries(record)) {
      if (value === '' || value === undefined) continue;
      device[name] = name === 'tags' ? value.split('|').map((t) => t.trim()) : value;
    }
    yield { line: info.lines, json: JSON.stringify(device) };
  }
}

/** Lines grouped into request bodies of at most MAX_LINES_PER_REQUEST lines and MAX_BYTES_PER_REQUEST bytes. */
async function* requests(lines: AsyncIterable<SourceLine>, perRequest: number): AsyncGenerator<SourceLine[]> {
  let batch: SourceLine[] = [];
  let bytes = 0;
  for await (const line of lines) {
    const size = Buffer.byteLength(line.json) + 1;
    if (batch.length > 0 && (batch.length >= perRequest || bytes + size > MAX_BYTES_PER_REQUEST)) {
      yield batch;
      batch = [];
      bytes = 0;
    }
    batch.push(line);
    bytes += size;
  }
  if (batch.length > 0) yield batch;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** One import request; 429 and 503 are waited out (Retry-After) and retried, anything else stops the import. */
async function postBatch(
  endpoint: string,
  headers: Record<string, string>,
  batch: SourceLine[],
): Promise<LineResult[]> {
  const body = `${batch.map((l) => l.json).join('\n')}\n`;
  for (let attempt = 1; ; attempt += 1) {
    let response: Response;
    try {
      response = await fetch(endpoint, { method: 'POST', headers, body });
    } catch (error) {
      if (attempt >= MAX_ATTEMPTS) throw new Error(`cannot reach ${endpoint}: ${(error as Error).message}`);
      await sleep(Math.min(30_000, 500 * 2 ** attempt));
      continue;
    }
    if (response.ok) return ((await response.json()) as { results: LineResult[] }).results;
    const text = await response.text();
    if ((response.status === 429 || response.status === 503) && attempt < MAX_ATTEMPTS) {
      const retryAfter = Number(response.headers.get('retry-after'));
      await sleep(Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter * 1000 : 1000 * 2 ** attempt);
      continue;
    }
    let message = text;
    try {
      const error = (JSON.parse(text) as { error?: { code: string; message: string } }).error;
      if (error) message = `${error.code}: ${error.message}`;
    } catch {}
    throw new Error(`the server answered ${response.status} (${message})`);
  }
}

/** A bar on a terminal, redrawn in place; a plain line per request otherwise (logs, CI). */
function progressReporter(totalBytes: number, tty: boolean) {
  const started = Date.now();
  return (readBytes: number, totals: Totals) => {
    const seconds = (Date.now() - started) / 1000;
    const rate = Math.round(totals.lines / Math.max(seconds, 0.001));
    const counts =
      `${totals.lines.toLocaleString('en')} lines (created ${totals.created.toLocaleString('en')}, ` +
      `updated ${totals.updated.toLocaleString('en')}, rejected ${totals.rejected.toLocaleString('en')}), ` +
      `${rate.toLocaleString('en')}/s`;
    if (!tty) {
      process.stderr.write(`imported ${counts}\n`);
      return;
    }
    const share = totalBytes === 0 ? 1 : Math.min(1, readBytes / totalBytes);
    const width = 30;
    const filled = Math.round(share * width);
    process.stderr.write(
      `\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${String(Math.round(share * 100)).padStart(3)}% ${counts}`,
    );
  };
}

export const importDevices = defineCommand({
  name: 'import',
  arguments: 'devices <file.csv|file.ndjson>',
  summary: 'import devices from a CSV or NDJSON file into a running server',
  description:
    'Sends the devices of a file to POST /api/v1/devices/import of a running server, up to 10,000 a request:\n' +
    'NDJSON (one device a line, as POST /devices takes it) or CSV with a header row naming the columns\n' +
    `${CSV_COLUMNS.join(', ')} (tags separated by |). Known tokens update their device, so\n` +
    'running it twice creates no duplicates. Rejected lines go to --rejects, one JSON line each with the line\n' +
    'number and the error. The server and the API client come from the options or from FCM_SERVER_URL,\n' +
    'FCM_SERVER_CLIENT_ID and FCM_SERVER_CLIENT_TOKEN (or FCM_SERVER_CLIENT_TOKEN_FILE).',
  options: {
    url: {
      type: 'string',
      value: 'URL',
      description: 'the server (default $FCM_SERVER_URL or http://127.0.0.1:8080)',
    },
    'client-id': {
      type: 'string',
      value: 'ID',
      description: 'the API client (default $FCM_SERVER_CLIENT_ID)',
    },
    'client-token': {
      type: 'string',
      value: 'TOKEN',
      description: 'its token (default $FCM_SERVER_CLIENT_TOKEN; prefer the variable: options show in ps)',
    },
    validate: {
      type: 'boolean',
      description: 'dry-run every token with FCM and reject those it calls invalid',
    },
    rejects: {
      type: 'string',
      value: 'FILE',
      description: 'where rejected lines go (default <file>.rejected.ndjson)',
    },
    format: {
      type: 'string',
      value: 'csv|ndjson',
      description: 'the file format (default: from its extension)',
    },
    'batch-size': {
      type: 'string',
      value: 'N',
      description: 'devices per request, 1 to 10000 (default 10000)',
    },
  },
  async run({ values, positionals }) {
    const [what, file, ...extra] = positionals;
    if (what !== 'devices' || !file || extra.length > 0) {
      throw new UsageError('usage: import devices <file.csv|file.ndjson> [--validate] [--rejects FILE]');
    }
    const format = values.format ?? (/\.csv$/i.test(file) ? 'csv' : 'ndjson');
    if (format !== 'csv' && format !== 'ndjson') throw new UsageError('--format must be csv or ndjson');
    const perRequest = Number(values['batch-size'] ?? MAX_LINES_PER_REQUEST);
    if (!Number.isInteger(perRequest) || perRequest < 1 || perRequest > MAX_LINES_PER_REQUEST) {
      throw new UsageError('--batch-size must be a whole number from 1 to 10000');
    }
    const env = loadApiClientEnv();
    const clientId = values['client-id'] ?? env.clientId;
    const clientToken = values['client-token'] ?? env.clientToken;
    if (!clientId || !clientToken) {
      throw new UsageError(
        'give the API client: --client-id and FCM_SERVER_CLIENT_TOKEN (or --client-token)',
      );
    }
    let totalBytes: number;
    try {
      totalBytes = statSync(file).size;
    } catch {
      throw new UsageError(`cannot read ${file}`);
    }
    const base = (values.url ?? env.url ?? 'http://127.0.0.1:8080').replace(/\/+$/, '');
    const endpoint = `${base}/api/v1/devices/import${values.validate ? '?validate=true' : ''}`;
    const headers = {
      'content-type': 'application/x-ndjson',
      'client-id': clientId,
      'client-token': clientToken,
    };
    const rejectsPath = values.rejects ?? `${file}.rejected.ndjson`;
    let rejects: WriteStream | undefined;

    let readBytes = 0;
    const onBytes = (n: number) => {
      readBytes += n;
    };
    const lines = format === 'csv' ? csvLines(file, onBytes) : ndjsonLines(file, onBytes);
    const report = progressReporter(totalBytes, process.stderr.isTTY === true);
    const totals: Totals = { lines: 0, created: 0, updated: 0, rejected: 0 };
    const started = Date.now();
    for await (const batch of requests(lines, perRequest)) {
      const results = await postBatch(endpoint, headers, batch);
      results.forEach((result, i) => {
        totals[result.status] += 1;
        if (result.status !== 'rejected') return;
        rejects ??= createWriteStream(rejectsPath);
        const source = batch[i]!;
        rejects.write(`${JSON.stringify({ line: source.line, error: result.error, input: source.json })}\n`);
      });
      totals.lines += batch.length;
      report(readBytes, totals);
    }
    if (process.stderr.isTTY) process.stderr.write('\n');
    if (rejects) await new Promise((resolve) => rejects!.end(resolve));
    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    console.log(
      `Imported ${file}: ${totals.lines} lines in ${seconds} s: ${totals.created} created, ` +
        `${totals.updated} updated, ${totals.rejected} rejected` +
        (totals.rejected > 0 ? ` (written to ${rejectsPath})` : ''),
    );
  },
});
