/** What route plugins are handed: the bound use cases and the settings they read, never a database handle. */
import type { Config } from '../config/index.ts';
import type { Services } from '../services/index.ts';

export interface RouteDeps {
  services: Services;
  config: Readonly<Config>;
}
