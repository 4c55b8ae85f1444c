/**
 * `fcm-server <command>`: finds the command (one file each in this folder) and runs it with the rest of the
 * arguments. `--help` lists every command with its options, `--version` prints the package's version; a
 * failure becomes a message on stderr and an exit code, never a stack trace.
 */
import { readFileSync } from 'node:fs';
import { AppError } from '../lib/errors.ts';
import { type Command, formatOptions, helpLine, PROGRAM, runCommand, UsageError } from './command.ts';
import { createClient } from './create-client.ts';
import { emulator } from './emulator.ts';
import { importDevices } from './import-devices.ts';
import { migrate } from './migrate.ts';
import { purge } from './purge.ts';
import { rotateClientToken } from './rotate-client-token.ts';
import { rotateEncryptionKey } from './rotate-encryption-key.ts';
import { serve } from './serve.ts';
import { start } from './start.ts';
import { worker } from './worker.ts';

const COMMANDS: readonly Command[] = [
  start,
  serve,
  worker,
  migrate,
  createClient,
  importDevices,
  rotateClientToken,
  purge,
  emulator,
  rotateEncryptionKey,
];

/** The same file in a checkout (src/cli/) and in the published package (dist/cli/). */
function version(): string {
  const file = new URL('../../package.json', import.meta.url);
  return (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version;
}

function usage(): string {
  const commands = COMMANDS.flatMap((c) => [
    helpLine('  ', [c.name, c.arguments].filter(Boolean).join(' '), c.summary),
    ...formatOptions(c.options, '      '),
  ]);
  return [
    `Usage: ${PROGRAM} <command> [options]`,
    '',
    'Commands:',
    ...commands,
    '',
    'Options:',
    helpLine('  ', '-h, --help', 'this help; `<command> --help` shows one command'),
    helpLine('  ', '-v, --version', 'print the version'),
    '',
    'Without a command: start. Configuration comes from environment variables: see .env.example.',
  ].join('\n');
}

/** Runs the command line `argv` (without node and the script). */
export async function runCli(argv: readonly string[]): Promise<void> {
  const [name = 'start', ...rest] = argv;
  if (name === '--help' || name === '-h' || name === 'help') {
    const [about] = rest;
    if (about === undefined) console.log(usage());
    else await runCommand(find(about), ['--help']);
    return;
  }
  if (name === '--version' || name === '-v') {
    console.log(version());
    return;
  }
  await runCommand(find(name), rest);
}

function find(name: string): Command {
  const command = COMMANDS.find((c) => c.name === name);
  if (command) return command;
  const what = name.startsWith('-') ? `unknown option "${name}"` : `unknown command "${name}"`;
  throw new UsageError(`${what}\n\n${usage()}`);
}

/** Prints why the command failed and returns the exit code: 2 for wrong input, 1 for everything else. */
export function reportFailure(error: unknown): number {
  if (error instanceof AppError) {
    // A service refused the input (a bad CIDR, an unknown client): say what and where.
    const details = error.details.map((d) => `  ${d.field ?? ''}: ${d.message}`);
    console.error([error.message, ...details].join('\n'));
    return error.status === 422 ? 2 : 1;
  }
  console.error(error instanceof Error ? error.message : String(error));
  return error instanceof UsageError ? 2 : 1;
}
