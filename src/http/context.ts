/** What route plugins are handed: the use cases bound to this process's dependencies and the settings they read, never a database handle. */
import type { Config } from '../config.ts';
import type { Services } from '../services/index.ts';

export interface RouteDeps {
  services: Services;
  config: Readonly<Config>;
}
