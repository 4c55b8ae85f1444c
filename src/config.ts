/** Kept for the importers of the former single-file config; the configuration lives in src/config/. */
export * from './config/index.ts';
