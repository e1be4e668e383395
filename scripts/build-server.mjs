// Compiles the service into one ES module (dist/server/main.mjs) for `npm start` and the bench.
// Running the TypeScript through tsx instead keeps a second V8 isolate (its module loader
// thread) alive for the life of the process: ~65 MB of resident memory that does nothing.
// Plain JavaScript so that it runs before anything is built; packages stay in node_modules.
import { build } from 'esbuild';
import process from 'node:process';
import { URL, fileURLToPath } from 'node:url';

export const SERVER_ENTRY = fileURLToPath(new URL('../dist/server/main.mjs', import.meta.url));

export async function buildServer() {
  await build({
    entryPoints: [fileURLToPath(new URL('../src/main.ts', import.meta.url))],
    outfile: SERVER_ENTRY,
    tsconfig: fileURLToPath(new URL('../tsconfig.json', import.meta.url)),
    bundle: true,
    packages: 'external',
    platform: 'node',
    format: 'esm',
    target: 'node20',
    sourcemap: 'linked',
    logLevel: 'warning',
  });
  return SERVER_ENTRY;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await buildServer();
