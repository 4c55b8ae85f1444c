/** Entry of a benchmark's server child process (bench/lib/server.ts forks it). */
import { runServer } from './server.ts';

await runServer();
