/** A debug logger that counts its lines by message: which process (or runtime) did the work. */
import { Writable } from 'node:stream';
import pino from 'pino';

export function countingLogger() {
  const counts: Record<string, number> = {};
  const stream = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split('\n')) {
        if (!line) continue;
        const msg = (JSON.parse(line) as { msg?: string }).msg ?? '';
        counts[msg] = (counts[msg] ?? 0) + 1;
      }
      done();
    },
  });
  return { logger: pino({ level: 'debug' }, stream), counts };
}
