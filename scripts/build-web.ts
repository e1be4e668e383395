/**
 * Builds the Usage page into web/dist (shipped in the repository, so `npm install && npm start`
 * needs no build step):
 *   1. the API client's types from the service's own OpenAPI document (no database needed),
 *   2. a strict type check of web/ against them: a contract change the page does not follow
 *      fails here,
 *   3. vite build (hashed file names), and a check of the JavaScript's gzipped size.
 *   npm run build:web
 */
import 'reflect-metadata';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { gzipSync } from 'node:zlib';
import openapiTS, { astToString } from 'openapi-typescript';
import ts from 'typescript';
import { createContainer } from '../src/composition-root';
import { createDataSource } from '../src/infrastructure/persistence/data-source';
import { buildApp } from '../src/interface/http/app';

export const WEB = fileURLToPath(new URL('../web', import.meta.url));
export const GENERATED_TYPES = join(WEB, 'src/generated/api.d.ts');
/** the most JavaScript the page may load, gzipped */
export const MAX_JS_GZIP_BYTES = 150 * 1024;

/** The document GET /openapi.json serves, from an app that is built but never connected. */
export async function openApiDocument(): Promise<Record<string, unknown>> {
  const settings = { deploymentMode: 'self-hosted' as const, maxBatchRecords: 1000, rawRetentionDays: 90 };
  const app = await buildApp({
    container: createContainer(createDataSource('postgres://unused@127.0.0.1:1/unused'), settings),
    jwt: { secret: 'only-to-build-the-document-never-to-sign-anything' },
    ...settings,
    logLevel: 'silent',
  });
  await app.ready();
  const document = app.swagger() as unknown as Record<string, unknown>;
  await app.close();
  return document;
}

export async function writeClientTypes(document: Record<string, unknown>): Promise<void> {
  mkdirSync(join(WEB, 'src/generated'), { recursive: true });
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- the document is checked by its own tests
  writeFileSync(GENERATED_TYPES, astToString(await openapiTS(document as any, { silent: true })));
}

/** The type errors of web/ under its own tsconfig (strict), one line each. */
export function typeErrors(): string[] {
  const config = ts.getParsedCommandLineOfConfigFile(
    join(WEB, 'tsconfig.json'),
    {},
    {
      ...ts.sys,
      onUnRecoverableConfigFileDiagnostic: (d) => {
        throw new Error(ts.flattenDiagnosticMessageText(d.messageText, '\n'));
      },
    },
  )!;
  const program = ts.createProgram(config.fileNames, config.options);
  return ts.getPreEmitDiagnostics(program).map((d) => {
    const where = d.file ? `${d.file.fileName}:${d.file.getLineAndCharacterOfPosition(d.start ?? 0).line + 1}: ` : '';
    return `${where}${ts.flattenDiagnosticMessageText(d.messageText, ' ')}`;
  });
}

export async function viteBuild(outDir = join(WEB, 'dist')): Promise<void> {
  const { build } = await import('vite');
  await build({ configFile: join(WEB, 'vite.config.ts'), logLevel: 'warn', build: { outDir, emptyOutDir: true } });
}

/** Every .js file of a build with its gzipped size. */
export function scriptSizes(dir = join(WEB, 'dist')): Array<{ file: string; gzipBytes: number }> {
  const files = readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.js'));
  return files.map((file) => ({ file, gzipBytes: gzipSync(readFileSync(join(dir, file)), { level: 9 }).length }));
}

async function main(): Promise<void> {
  await writeClientTypes(await openApiDocument());
  const errors = typeErrors();
  if (errors.length > 0) throw new Error(`the page does not compile against the API:\n${errors.join('\n')}`);
  await viteBuild();
  const sizes = scriptSizes();
  const total = sizes.reduce((n, s) => n + s.gzipBytes, 0);
  for (const s of sizes) console.log(`${s.file}: ${(s.gzipBytes / 1024).toFixed(1)} KB gzipped`);
  if (total > MAX_JS_GZIP_BYTES)
    throw new Error(`JavaScript is ${total} bytes gzipped, more than ${MAX_JS_GZIP_BYTES}`);
  console.log(
    `web/dist built; JavaScript ${(total / 1024).toFixed(1)} KB gzipped (at most ${MAX_JS_GZIP_BYTES / 1024} KB)`,
  );
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main().catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  });
}
