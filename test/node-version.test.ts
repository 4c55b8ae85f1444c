/**
 * An old Node.js is refused in one line, never a stack trace: the version rule itself, and the real entry point
 * run by the machine's own Node (20 on this image) when that one is older than the floor.
 */
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..');
const { nodeVersionProblem } = createRequire(import.meta.url)('../bin/check-node.cjs') as {
  nodeVersionProblem: (version: string) => string | undefined;
};
const { engines } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
  engines: { node: string };
};

const SYSTEM_NODE = '/usr/bin/node';
/** The machine's Node version when the check must refuse it; otherwise the reason the end-to-end case skips. */
function systemNode(): { version: string; skip?: never } | { skip: string } {
  if (!existsSync(SYSTEM_NODE)) return { skip: `${SYSTEM_NODE} does not exist` };
  const version = execFileSync(SYSTEM_NODE, ['--version'], { encoding: 'utf8' }).trim();
  if (!nodeVersionProblem(version)) return { skip: `${SYSTEM_NODE} is ${version}, not older than the floor` };
  return { version };
}
const system = systemNode();
const oneLine = (version: string) =>
  `fcm-server needs Node.js >= 22.18; this is ${version}. Install Node 24 LTS: https://nodejs.org/en/download\n`;

describe('the Node.js version floor', () => {
  it('is package.json engines.node, and the check draws the line there', () => {
    expect(engines.node).toBe('>=22.18');
    expect(nodeVersionProblem('v20.20.2')).toBe(oneLine('v20.20.2').trimEnd());
    expect(nodeVersionProblem('v22.17.9')).toMatch(
      /^fcm-server needs Node\.js >= 22\.18; this is v22\.17\.9\./,
    );
    expect(nodeVersionProblem('v8.0.0')).toBeDefined();
    expect(nodeVersionProblem('v22.18.0')).toBeUndefined();
    expect(nodeVersionProblem('v23.0.0')).toBeUndefined();
    expect(nodeVersionProblem('v24.11.1')).toBeUndefined();
    expect(nodeVersionProblem(process.version)).toBeUndefined();
  });

  it.skipIf(system.skip !== undefined)(
    `bin/fcm-server.js on the machine's old Node prints one line on stderr and exits 1 (${system.skip ?? 'runs'})`,
    async () => {
      const { version } = system as { version: string };
      for (const args of [['start'], ['--version'], []]) {
        const result = await promisify(execFile)(SYSTEM_NODE, [join(root, 'bin', 'fcm-server.js'), ...args], {
          cwd: root,
        }).then(
          () => ({ code: 0, stdout: '', stderr: '' }),
          (error: { code: number; stdout: string; stderr: string }) => error,
        );
        expect(result).toMatchObject({ code: 1, stdout: '', stderr: oneLine(version) });
      }
    },
  );

  it.skipIf(system.skip !== undefined)(
    `npm's pretest check refuses the old Node the same way (${system.skip ?? 'runs'})`,
    async () => {
      const { version } = system as { version: string };
      const result = await promisify(execFile)(SYSTEM_NODE, [join(root, 'bin', 'check-node.cjs')]).then(
        () => ({ code: 0, stderr: '' }),
        (error: { code: number; stderr: string }) => error,
      );
      expect(result).toMatchObject({ code: 1, stderr: oneLine(version) });
    },
  );
});
