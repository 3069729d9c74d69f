#!/usr/bin/env node
// The `sessions` command: runs the TypeScript CLI (src/cli/main.ts) through
// tsx's ESM loader. Paths are resolved from this file, so it works from any
// working directory and through `npx sessions`.
import { register } from 'tsx/esm/api';

register();
const { run } = await import(new URL('../src/cli/main.ts', import.meta.url).href);
await run(process.argv.slice(2));
