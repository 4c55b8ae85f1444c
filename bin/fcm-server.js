#!/usr/bin/env node
// Entry for `npx fcm-server`: runs the TypeScript sources directly (Node >= 22.18 strips types) in a
// checkout, and the compiled `dist/` in a published package, which ships without `src/`. An older Node is
// refused in one line by the first import, before anything it cannot load.
import './check-node.cjs';
import { existsSync } from 'node:fs';

const source = new URL('../src/main.ts', import.meta.url);
const compiled = new URL('../dist/main.js', import.meta.url);
await import(existsSync(source) ? source.href : compiled.href);
