/**
 * How far V8 lets the heap grow between full garbage collections, for the server's own processes.
 *
 * After a full collection V8 sets the next one's threshold at up to four times what was left alive, more when
 * the program allocates fast. A server sending at full speed keeps about 70 MB alive but allocates hundreds of
 * MB a second, so its heap grew to 200 MB and its RSS to about 370 MB during a 100,000-device send. Letting it
 * double at most (`--heap-growing-percent=100`) held the same send at about 270 MB with no more CPU per delivery;
 * growing by half (50) held it at 245 MB for about 15 % more CPU (docs/benchmarks.md, "Memory").
 *
 * The command line wins: `node --heap-growing-percent=0 bin/fcm-server.js start` gives V8 its own choice back.
 * (NODE_OPTIONS cannot carry this flag, so the server sets it itself when it starts.)
 */
import v8 from 'node:v8';

export const HEAP_GROWING_PERCENT = 100;

/** Sets the growth unless the process was started with its own; answers whether it did. */
export function applyHeapPolicy(execArgv: readonly string[] = process.execArgv): boolean {
  if (execArgv.some((arg) => /^--heap[-_]growing[-_]percent(=|$)/.test(arg))) return false;
  v8.setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);
  return true;
}
