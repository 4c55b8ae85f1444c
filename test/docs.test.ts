/**
 * Executable docs: every ```sh block of README.md and docs/*.md, run in document order against a live server
 * started the README's way (`node bin/fcm-server.js start`: the embedded database and the sandbox emulator).
 *
 * One bash session per file, so what a block exports the next block sees, as in a reader's terminal. A block
 * fails when a command exits non-zero, when a curl answers 4xx/5xx without a documented answer, or when a
 * documented answer (`# → 202 {"status": "queued", …}`, see docs-answers.ts) differs from the real one.
 * A block preceded by `<!-- docs-test: skip (reason) -->` is listed as skipped with its reason.
 *
 * What the test adds to the reader's shell, and nothing else: DATA_DIR (the fresh data directory of the server
 * it started), `localhost:8080` rewritten to the server's free port (so the test never collides with a server
 * a developer runs), and a `curl` function that calls the real curl and keeps each answer's status and body
 * for the checks. The server is always embedded, also when DATABASE_URL is set: the docs are the embedded quick
 * start, and the PostgreSQL paths are the rest of the suite's job.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Expectation, mismatch, parseExpectation } from './docs-answers.ts';
import { freePort, waitFor } from './helpers.ts';

const root = join(import.meta.dirname, '..');
const files = [
  'README.md',
  ...readdirSync(join(root, 'docs'))
    .sort()
    .map((name) => `docs/${name}`),
].filter((file) => file.endsWith('.md'));

interface Block {
  file: string;
  line: number;
  skip?: string;
  script: string;
  expectations: Map<number, Expectation>;
  error?: string;
}

const SKIP = /^<!--\s*docs-test:\s*skip\s*\((.+)\)\s*-->$/;
const ARROW_LINE = /^\s*# → (.*)$/;
const ARROW_INLINE = /^(.*\S)\s+# → (.*)$/;
const CONTINUATION = /^\s*#\s{2,}(.*)$/;

/** The sh blocks of one markdown file, each made a script whose `# →` comments call `__expect <id>`. */
function blocksOf(file: string): Block[] {
  const lines = readFileSync(join(root, file), 'utf8').split('\n');
  const blocks: Block[] = [];
  let nextId = 0;
  for (let i = 0; i < lines.length; i++) {
    if (!/^```sh\s*$/.test(lines[i]!)) continue;
    let previous = i - 1;
    while (previous >= 0 && lines[previous]!.trim() === '') previous--;
    const block: Block = {
      file,
      line: i + 1,
      skip: SKIP.exec(lines[previous]?.trim() ?? '')?.[1],
      script: '',
      expectations: new Map(),
    };
    const body: string[] = [];
    for (i++; i < lines.length && !/^```\s*$/.test(lines[i]!); i++) body.push(lines[i]!);
    const script: string[] = [];
    for (let j = 0; j < body.length; j++) {
      const ownLine = ARROW_LINE.test(body[j]!);
      const arrow = ownLine ? ARROW_LINE.exec(body[j]!) : ARROW_INLINE.exec(body[j]!);
      if (!arrow) {
        script.push(body[j]!);
        continue;
      }
      let text = arrow.at(-1)!;
      const continued: string[] = [];
      while (j + 1 < body.length && CONTINUATION.exec(body[j + 1]!) && !ARROW_LINE.test(body[j + 1]!)) {
        text += ` ${CONTINUATION.exec(body[++j]!)![1]}`;
        continued.push('');
      }
      const id = nextId++;
      try {
        block.expectations.set(id, parseExpectation(text));
      } catch (error) {
        block.error = `${file}:${i - body.length + j}: ${(error as Error).message}`;
      }
      // Same line count as the doc, so an error's line number points into the block.
      script.push(ownLine ? `__expect ${id}` : `${arrow[1]}; __expect ${id}`);
      script.push(...continued);
    }
    block.script = script.join('\n');
    blocks.push(block);
  }
  return blocks;
}

// The reader's shell, plus the two observation helpers: curl keeps every answer, __expect ties the last one to
// a documented answer. The counter lives in a file because curl often runs in a subshell: NID=$(curl … | node …).
const PRELUDE = `
set -o pipefail
trap 'echo "✗ exit status $? at line $LINENO of the block: $BASH_COMMAND" >&2' ERR
curl() {
  local n=$(( $(cat "$DOCS_STATE/n") + 1 ))
  echo "$n" > "$DOCS_STATE/n"
  command curl -D "$DOCS_STATE/$n.head" "$@" | tee "$DOCS_STATE/$n.body"
}
__expect() { echo "$1" > "$DOCS_STATE/$(cat "$DOCS_STATE/n").expect"; }
`;

const dataDir = mkdtempSync(join(tmpdir(), 'fcm-docs-'));
let server: ChildProcess;
let port: number;
let serverOutput = '';

/** The environment of a reader who typed `npm start` in the repository: no test or database settings. */
function readerEnv(extra: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const name of ['DATABASE_URL', 'NODE_ENV', 'VITEST', 'VITEST_POOL_ID', 'VITEST_WORKER_ID', 'PORT'])
    delete env[name];
  env.PATH = `${dirname(process.execPath)}:${env.PATH ?? ''}`;
  return { ...env, ...extra };
}

beforeAll(async () => {
  port = await freePort();
  server = spawn(process.execPath, [join(root, 'bin', 'fcm-server.js'), 'start'], {
    cwd: root,
    env: readerEnv({ DATA_DIR: dataDir, PORT: String(port), LOG_LEVEL: 'warn' }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const collect = (chunk: Buffer) => {
    serverOutput += chunk.toString();
  };
  server.stdout!.on('data', collect);
  server.stderr!.on('data', collect);
  await waitFor(
    async () => (serverOutput.includes('fcm-server is running') ? true : undefined),
    // Generous: on a loaded CI machine a cold start (migrations included) has taken over a minute.
    110_000,
    `the server to start (output so far: ${serverOutput})`,
  );
}, 120_000);

afterAll(async () => {
  const skipped = files.flatMap((file) =>
    blocksOf(file).flatMap((block) => (block.skip ? [`  ${block.file}:${block.line}: ${block.skip}`] : [])),
  );
  console.log(`docs blocks skipped (${skipped.length}):\n${skipped.join('\n')}`);
  if (server?.exitCode === null) {
    server.kill('SIGTERM');
    await once(server, 'exit');
  }
  rmSync(dataDir, { recursive: true, force: true });
});

/** One bash session per file: blocks are sourced into it one at a time, each ending with a marker line. */
class Session {
  private readonly shell: ChildProcess;
  private output = '';
  private exited: number | null = null;
  readonly state: string;

  constructor(name: string) {
    this.state = mkdtempSync(join(tmpdir(), `fcm-docs-${name.replace(/\W/g, '-')}-`));
    writeFileSync(join(this.state, 'n'), '0');
    // Detached: its own process group, so close() also stops what a doc started in the background.
    this.shell = spawn('bash', ['--noprofile', '--norc'], {
      cwd: root,
      detached: true,
      env: readerEnv({ DATA_DIR: dataDir, DOCS_STATE: this.state }),
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const collect = (chunk: Buffer) => {
      this.output += chunk.toString();
    };
    this.shell.stdout!.on('data', collect);
    this.shell.stderr!.on('data', collect);
    this.shell.once('exit', (code) => {
      this.exited = code ?? -1;
    });
    this.shell.stdin!.write(PRELUDE);
  }

  get calls(): number {
    return Number(readFileSync(join(this.state, 'n'), 'utf8'));
  }

  /** Runs a script; resolves with what it printed, rejects (with the output) when the shell exited on an error. */
  async run(id: number, script: string): Promise<string> {
    const file = join(this.state, `block-${id}.sh`);
    writeFileSync(file, script.replaceAll('localhost:8080', `localhost:${port}`));
    const start = this.output.length;
    const marker = `__DOCS_BLOCK_DONE__ ${id}`;
    this.shell.stdin!.write(`set -e; source '${file}' </dev/null; set +e; echo; echo '${marker}'\n`);
    await waitFor(
      async () => (this.output.includes(marker, start) || this.exited !== null ? true : undefined),
      40_000,
      `the block to finish (output so far: ${this.output.slice(start)})`,
    );
    const printed = this.output.slice(start).replace(marker, '').trimEnd();
    if (!this.output.includes(marker, start))
      throw new Error(`the block stopped with exit status ${this.exited}:\n${printed}`);
    return printed;
  }

  close(): void {
    try {
      process.kill(-this.shell.pid!, 'SIGTERM');
    } catch {
      // The group is gone already: every process of it has exited.
    }
    rmSync(this.state, { recursive: true, force: true });
  }
}

/** Every curl answer of the calls first+1..last: documented ones match, undocumented ones are not errors. */
function checkAnswers(session: Session, block: Block, first: number, last: number): string[] {
  const problems: string[] = [];
  for (let n = first + 1; n <= last; n++) {
    const head = readFileSync(join(session.state, `${n}.head`), 'utf8');
    const status = Number([...head.matchAll(/^HTTP\/\S+ (\d{3})/gm)].at(-1)?.[1]);
    const body = readFileSync(join(session.state, `${n}.body`), 'utf8');
    const expectFile = join(session.state, `${n}.expect`);
    const what = `curl #${n - first} of the block answered ${status} ${body.slice(0, 300)}`;
    if (!existsSync(expectFile)) {
      if (!(status < 400))
        problems.push(`${what}\n  (an error answer must be documented with "# → ${status} …")`);
      continue;
    }
    const expected = block.expectations.get(Number(readFileSync(expectFile, 'utf8')))!;
    if (expected.status !== undefined && expected.status !== status)
      problems.push(`${what}\n  documented status: ${expected.status}`);
    if (expected.body) {
      let actual: unknown;
      try {
        actual = JSON.parse(body);
      } catch {
        problems.push(`${what}\n  documented a JSON answer, got none`);
        continue;
      }
      const found = mismatch(expected.body, actual);
      if (found) problems.push(`${what}\n  differs from the documented answer at ${found}`);
    }
  }
  return problems;
}

for (const file of files) {
  const blocks = blocksOf(file);
  if (blocks.length === 0) continue;
  describe(file, () => {
    let session: Session;
    let broken: string | undefined;
    beforeAll(() => {
      session = new Session(file);
    });
    afterAll(() => session.close());

    for (const [index, block] of blocks.entries()) {
      const name = `${file}:${block.line}`;
      if (block.skip) {
        it.skip(`${name} (skipped: ${block.skip})`, () => {});
        continue;
      }
      it(name, async () => {
        if (block.error) throw new Error(block.error);
        if (broken) throw new Error(`not run: ${broken} failed, and this file's blocks share one shell`);
        broken = name;
        const first = session.calls;
        const printed = await session.run(index, block.script);
        broken = undefined;
        const problems = checkAnswers(session, block, first, session.calls);
        expect(problems, `${name} printed:\n${printed}`).toEqual([]);
      }, 45_000);
    }
  });
}
