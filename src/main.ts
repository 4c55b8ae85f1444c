/** Process entry of `fcm-server` (bin/fcm-server.js): runs the command line (src/cli/) and exits on failure. */
import { reportFailure, runCli } from './cli/index.ts';

runCli(process.argv.slice(2)).catch((error: unknown) => process.exit(reportFailure(error)));
