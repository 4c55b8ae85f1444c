/** What route plugins are handed: the same dependencies as the services they call. */
export type { ServiceDeps as RouteDeps } from '../services/deps.ts';
