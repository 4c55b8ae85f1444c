/**
 * Bundles the dashboard (dashboard/src, Preact + TypeScript) into dist/dashboard, which the server serves at
 * /dashboard: assets/app.js and assets/app.css (minified, with source maps) and index.html. esbuild does it in
 * well under a second, so `npm install` (the `prepare` script) and `npm run build` run it, and a fresh clone
 * serves the dashboard on `npm start` with no step of its own. Nothing it writes is committed.
 *
 *   node scripts/build-dashboard.ts
 */
import { copyFileSync, mkdirSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = (path: string) => fileURLToPath(new URL(`../${path}`, import.meta.url));

/** Builds the bundle into `outDir` (default dist/dashboard, where the server looks for it). */
export async function buildDashboard(outDir = root('dist/dashboard')): Promise<void> {
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(outDir, { recursive: true });
  await build({
    entryPoints: { app: root('dashboard/src/main.tsx') },
    outdir: `${outDir}/assets`,
    bundle: true,
    format: 'esm',
    target: 'es2022',
    minify: true,
    sourcemap: true,
    jsx: 'automatic',
    jsxImportSource: 'preact',
    legalComments: 'none',
    logLevel: 'warning',
  });
  copyFileSync(root('dashboard/index.html'), `${outDir}/index.html`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await buildDashboard();
