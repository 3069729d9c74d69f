/**
 * Entry point: `npm start` (`node --import tsx src/main.ts`).
 *
 * NODE_ENV defaults to production before anything else loads: graphql-js
 * reads it once, at import, and outside production its type checks take a
 * slow path (a cross-realm diagnostic on every failed instanceof) that cost
 * about a fifth of the CPU of a 1,000-event ingest mutation. Hence the
 * dynamic import: a static one would load graphql before this line runs.
 */
process.env['NODE_ENV'] ??= 'production';
const { runService } = await import('./run-service.ts');
await runService();
