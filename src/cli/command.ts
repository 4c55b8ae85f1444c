/**
 * What a command of `fcm-server` is: a name, its options each with their help, and what it runs. The usage
 * text and the node:util parseArgs configuration are both derived from the one option list, so `--help` cannot
 * forget an option the parser accepts.
 */
import { type ParseArgsOptionsConfig, parseArgs } from 'node:util';

export const PROGRAM = 'fcm-server';

export interface OptionSpec {
  type: 'string' | 'boolean';
  /** A one-letter alias, such as `h` for `--help`. */
  short?: string;
  /** How the value is shown in the usage (`N`, `NAME`); string options only. */
  value?: string;
  description: string;
  default?: string;
}

export type OptionSpecs = Record<string, OptionSpec>;

type ValueOf<S extends OptionSpec> = S['type'] extends 'boolean'
  ? boolean | undefined
  : S extends { default: string }
    ? string
    : string | undefined;

export type OptionValues<O extends OptionSpecs> = { [K in keyof O]: ValueOf<O[K]> };

export interface Command<O extends OptionSpecs = OptionSpecs> {
  name: string;
  /** One line for the command list. */
  summary: string;
  /** What its own --help says about it: what it does, when to use it, what it needs. */
  description: string;
  /** The positional arguments as the usage line shows them, e.g. `<client-id>`; none when absent. */
  arguments?: string;
  options: O;
  /** Runs the command; throws UsageError for arguments that parse but make no sense. */
  run(input: { values: OptionValues<O>; positionals: string[] }): Promise<void>;
}

/** Keeps the option names and types of a command literal, so that `run` sees typed values. */
export function defineCommand<const O extends OptionSpecs>(command: Command<O>): Command<O> {
  return command;
}

/** Wrong arguments: the message and the usage go to stderr, and the process exits with 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** Every command takes it; it prints the command's usage and runs nothing. */
const HELP_OPTION: OptionSpec = { type: 'boolean', short: 'h', description: 'show this help' };

const withHelp = (options: OptionSpecs): OptionSpecs => ({ ...options, help: HELP_OPTION });

/** Parses a command's arguments strictly; an unknown option or a missing value is a UsageError. */
function parseCommandArgs(command: Command, args: string[]) {
  const options: ParseArgsOptionsConfig = {};
  for (const [name, { type, short, default: value }] of Object.entries(withHelp(command.options))) {
    options[name] = {
      type,
      ...(short === undefined ? {} : { short }),
      ...(value === undefined ? {} : { default: value }),
    };
  }
  try {
    return parseArgs({ args, options, allowPositionals: command.arguments !== undefined, strict: true });
  } catch (error) {
    // node:util reports every malformed command line as a TypeError with an ERR_PARSE_ARGS_* code.
    const code = (error as { code?: unknown }).code;
    if (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS_')) {
      throw new UsageError((error as Error).message);
    }
    throw error;
  }
}

/**
 * Runs a command with its arguments: `--help` prints its usage and runs nothing; wrong arguments throw a
 * UsageError that carries the usage.
 */
export async function runCommand(command: Command, args: string[]): Promise<void> {
  try {
    const { values, positionals } = parseCommandArgs(command, args);
    const { help, ...rest } = values;
    if (help) {
      console.log(formatUsage(command));
      return;
    }
    // parseArgs built these values from the command's own option specs, which is what OptionValues describes.
    await command.run({ values: rest as OptionValues<OptionSpecs>, positionals });
  } catch (error) {
    if (error instanceof UsageError) throw new UsageError(`${error.message}\n\n${formatUsage(command)}`);
    throw error;
  }
}

const optionLabel = (name: string, spec: OptionSpec) => {
  const flag = spec.short === undefined ? `--${name}` : `-${spec.short}, --${name}`;
  return spec.type === 'string' ? `${flag} ${spec.value ?? 'VALUE'}` : flag;
};

const optionDescription = (spec: OptionSpec) =>
  spec.default === undefined ? spec.description : `${spec.description} (default ${spec.default})`;

/** One help line: the label, then the text from column `indent + 22` (on the next line when the label is long). */
export function helpLine(indent: string, label: string, text: string): string {
  const pad = label.length < 22 ? ' '.repeat(22 - label.length) : `\n${indent}${' '.repeat(22)}`;
  return `${indent}${label}${pad}${text}`;
}

export const formatOptions = (options: OptionSpecs, indent: string): string[] =>
  Object.entries(options).map(([name, spec]) =>
    helpLine(indent, optionLabel(name, spec), optionDescription(spec)),
  );

/** The usage a command prints for --help and after wrong arguments. */
export function formatUsage(command: Command): string {
  const line = [PROGRAM, command.name, command.arguments, '[options]'].filter(Boolean).join(' ');
  return [
    `Usage: ${line}`,
    '',
    command.description,
    '',
    'Options:',
    ...formatOptions(withHelp(command.options), '  '),
  ].join('\n');
}
