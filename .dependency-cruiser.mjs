/**
 * The import graph's rules (`npm run check:deps`, run in CI): no circles, and dependencies point one way
 * through the layers of docs/architecture.md, so that a module can be read knowing only what lies below it.
 * Type-only imports count: a type that points back up ties the layers together as surely as a value does.
 */

/**
 * The layers, lowest first. A module may import its own layer and the layers before it, never one after it.
 * Layers that share a rank (http and jobs) are siblings: neither imports the other.
 */
const ranks = [
  // Pure helpers and the domain vocabulary (platforms, content types): they know nothing of the server.
  { lib: '^src/(lib|domain)/' },
  { config: '^src/config(\\.ts$|/)' },
  { logger: '^src/logger\\.ts$' },
  { push: '^src/push/' },
  { templates: '^src/templates/' },
  { scheduling: '^src/scheduling/' },
  // A separate program (FCM's stand-in): below everything that stores or decides (see emulator-is-separate).
  { emulator: '^src/emulator/' },
  { db: '^src/db/' },
  // The queue contract (names, payloads, the JobQueue interface) and its pg-boss adapter.
  { queue: '^src/queue/' },
  // Metrics implement the observer interfaces of what they watch (push's FcmObserver, the queue's depths),
  // so they sit above push and the queue; services and everything above report to them.
  { observability: '^src/observability/' },
  { services: '^src/services/' },
  { http: '^src/http/', jobs: '^src/jobs/' },
  // local-admin is part of the app until it is split into internal routes and the CLI's server discovery.
  { app: '^src/(app|local-admin)\\.ts$' },
  { runtime: '^src/runtime(\\.ts$|/)' },
  // The package's entry for embedding (createServer, the Fastify plugin): the runtime from typed settings.
  { library: '^src/library\\.ts$' },
  { cli: '^(src/main\\.ts|src/cli/|bin/)' },
];

const TESTS = '\\.test\\.ts$';
const layers = ranks.flatMap((rank, index) =>
  Object.entries(rank).map(([name, path]) => ({ name, path, index })),
);

/** One rule per layer: nothing above it, and no sibling of the same rank (the top layer needs none). */
const layerRules = layers.flatMap((layer) => {
  const forbidden = layers.filter(
    (other) => other.index > layer.index || (other.index === layer.index && other.name !== layer.name),
  );
  if (forbidden.length === 0) return [];
  return {
    name: `layer-${layer.name}`,
    comment: `${layer.name} may import only ${layers
      .filter((other) => other.index < layer.index)
      .map((other) => other.name)
      .join(', ')} and itself.`,
    severity: 'error',
    from: { path: layer.path, pathNot: TESTS },
    to: { path: forbidden.map((other) => other.path) },
  };
});

export default {
  forbidden: [
    {
      name: 'no-circular',
      comment:
        'Two modules that import each other (directly or round a longer loop) are one module in disguise.',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    {
      name: 'layer-unknown',
      comment: 'Every module under src/ belongs to a layer: place a new folder in .dependency-cruiser.mjs.',
      severity: 'error',
      from: { path: '^src/', pathNot: [TESTS, ...layers.map((layer) => layer.path)] },
      to: {},
    },
    ...layerRules,
    {
      name: 'http-not-to-db',
      comment: 'Routes speak to services only: no repository, no database handle, no row type.',
      severity: 'error',
      from: { path: '^src/http/', pathNot: TESTS },
      to: { path: '^src/db/' },
    },
    {
      name: 'services-no-framework-or-driver',
      comment:
        'Services are plain use-case code, handed what they use: no Fastify, no SQL builder, no database driver, ' +
        'not even their types (a signature that names a FastifyRequest or a Pool ties every caller to it).',
      severity: 'error',
      from: { path: '^src/services/', pathNot: TESTS },
      to: {
        path: '^node_modules/(fastify|@fastify/[^/]+|fastify-[^/]+|pg|@types/pg|pg-boss|@electric-sql/pglite|drizzle-orm)/',
      },
    },
    {
      name: 'emulator-is-separate',
      comment: 'The emulator judges what the server sends: only the process wiring (runtime, CLI) starts it.',
      severity: 'error',
      from: {
        path: '^src/',
        pathNot: ['^src/emulator/', '^src/runtime(\\.ts$|/)', '^src/(main\\.ts|cli/)', TESTS],
      },
      to: { path: '^src/emulator/' },
    },
    {
      name: 'not-to-dev-dep',
      comment:
        'Production code imports only `dependencies`: `npm ci --omit=dev` (the Docker image) lacks the rest.',
      severity: 'error',
      from: { path: '^(src|bin)/', pathNot: TESTS },
      to: { dependencyTypes: ['npm-dev'], dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'no-undeclared-dep',
      comment:
        'A package imported but not in package.json works only while another package happens to bring it.',
      severity: 'error',
      from: { path: '^(src|bin)/' },
      to: { dependencyTypes: ['npm-no-pkg', 'npm-unknown'] },
    },
    {
      name: 'not-to-unresolvable',
      comment: 'An import that resolves to nothing fails at run time.',
      severity: 'error',
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    // TypeScript 7.0 has no JavaScript compiler API for dependency-cruiser; swc parses the sources instead,
    // and reports type-only imports as well (what tsPreCompilationDeps does with tsc).
    parser: 'swc',
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^src/db/migrations/' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      mainFields: ['module', 'main', 'types', 'typings'],
    },
  },
};
