/**
 * Writes the TypeScript SDK's generated files: the OpenAPI document (packages/client/openapi.json, by
 * scripts/openapi.ts, no database) and the types openapi-typescript derives from it
 * (packages/client/src/schema.d.ts). `--check` writes them to a temporary folder instead and fails when they
 * differ from the committed ones, so that a route changed without regenerating the SDK fails CI.
 *
 *   node scripts/generate-client.ts           # npm run generate:client
 *   node scripts/generate-client.ts --check   # npm run check:client
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const CLIENT = 'packages/client';
const FILES = { document: 'openapi.json', types: 'src/schema.d.ts' };
// openapi-typescript needs TypeScript 5's compiler API: it is installed, with TypeScript 5, inside the client
// package (docs/checks.md says why), so its binary is that package's, not the root's.
const GENERATOR = join(CLIENT, 'node_modules/.bin/openapi-typescript');

function generate(outDir: string): void {
  const document = join(outDir, FILES.document);
  execFileSync(process.execPath, ['scripts/openapi.ts', document, '--sandbox'], { stdio: 'inherit' });
  execFileSync(GENERATOR, [document, '--output', join(outDir, FILES.types), '--silent'], {
    stdio: 'inherit',
  });
}

if (!process.argv.includes('--check')) {
  generate(CLIENT);
} else {
  const outDir = mkdtempSync(join(tmpdir(), 'fcm-client-'));
  try {
    generate(outDir);
    const stale = Object.values(FILES).filter(
      (file) => readFileSync(join(outDir, file), 'utf8') !== readFileSync(join(CLIENT, file), 'utf8'),
    );
    if (stale.length > 0) {
      console.error(
        `${stale.map((file) => join(CLIENT, file)).join(' and ')} differ from the API: run npm run generate:client`,
      );
      process.exitCode = 1;
    }
  } finally {
    rmSync(outDir, { recursive: true, force: true });
  }
}
