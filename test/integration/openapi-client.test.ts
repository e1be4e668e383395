import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import openapiTS, { astToString } from 'openapi-typescript';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../support/test-app';

/**
 * A client generated from the served document, as README says (openapi-typescript + openapi-fetch),
 * must compile a realistic admin scenario under `strict`, refuse the calls the contract forbids,
 * and work against the service.
 */
const here = dirname(fileURLToPath(import.meta.url));
const REPO = resolve(here, '../..');
const FIXTURE = join(REPO, 'test/fixtures/openapi-client/admin-scenario.ts');

let t: TestApp;
let workDir: string;
let scenarioFile: string;

beforeAll(async () => {
  t = await createTestApp();
  const res = await t.app.inject({ method: 'GET', url: '/openapi.json' });
  expect(res.statusCode).toBe(200);
  // offline: the document is passed as an object and has only local references
  const types = astToString(await openapiTS(res.json(), { silent: true }));

  workDir = mkdtempSync(join(tmpdir(), 'tokentally-openapi-client-'));
  writeFileSync(join(workDir, 'api.ts'), types);
  // the scenario is checked here, next to the generated types, with the project's packages
  symlinkSync(join(REPO, 'node_modules'), join(workDir, 'node_modules'), 'dir');
  const source = readFileSync(FIXTURE, 'utf8');
  expect(source).toMatch(/^\/\/ @ts-nocheck$/m);
  scenarioFile = join(workDir, 'admin-scenario.ts');
  writeFileSync(scenarioFile, source.replace(/^\/\/ @ts-nocheck$/m, '// (checked)'));
});

let origin: Promise<string> | undefined;
/** The service on a real port, started once for the scenarios. */
function listening(): Promise<string> {
  origin ??= t.app.listen({ host: '127.0.0.1', port: 0 });
  return origin;
}

afterAll(async () => {
  if (workDir) rmSync(workDir, { recursive: true, force: true });
  await t?.close();
});

describe('a client generated from the OpenAPI document', () => {
  it('type-checks the admin scenario with strict TypeScript, and refuses what the contract forbids', () => {
    const program = ts.createProgram([scenarioFile], {
      strict: true,
      noUncheckedIndexedAccess: true,
      noEmit: true,
      skipLibCheck: true,
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.ESNext,
      moduleResolution: ts.ModuleResolutionKind.Bundler,
      lib: ['lib.es2022.d.ts', 'lib.dom.d.ts'],
      types: [],
    });
    const diagnostics = ts.getPreEmitDiagnostics(program).map((d) => {
      const message = ts.flattenDiagnosticMessageText(d.messageText, '\n');
      if (!d.file || d.start === undefined) return `TS${d.code}: ${message}`;
      const { line, character } = d.file.getLineAndCharacterOfPosition(d.start);
      return `${d.file.fileName.replace(workDir, '<tmp>')}:${line + 1}:${character + 1} TS${d.code}: ${message}`;
    });
    // an `@ts-expect-error` line that compiles is reported as TS2578 (unused directive)
    expect(diagnostics).toEqual([]);
    // the forbidden calls are still there to be refused
    const expectations = readFileSync(scenarioFile, 'utf8').match(/@ts-expect-error/g) ?? [];
    expect(expectations.length).toBeGreaterThanOrEqual(9);
  });

  it('runs the scenario against the service', async () => {
    const baseUrl = await listening();
    const { adminScenario } = await import('../fixtures/openapi-client/admin-scenario');
    const result = await adminScenario(baseUrl, t.token('root', { role: 'admin' }));
    expect(result).toMatchObject({
      accepted: 3,
      rejected: 0,
      modelKind: 'language',
      priceVersions: 2,
      firstCachedInputPrice: null,
      totalRequests: 3,
      todayRequests: expect.any(Number),
      totalCost: expect.stringMatching(/^\d+\.\d+$/),
      avgDurationMs: 900,
      providers: expect.arrayContaining(['openai', 'acmeai']),
      // search "a" matches both users, sorted by user id, ascending; carla's only model is unpriced
      users: [
        { userId: 'alice', cost: expect.stringMatching(/^\d+\.\d+$/) },
        { userId: 'carla', cost: null },
      ],
      page: 1,
      pageSize: 20,
      aliceRecent: 2,
    });
    expect(result.seriesBuckets).toBeGreaterThanOrEqual(2 * 24);
    expect(['computed', 'provided']).toContain(result.aliceLastStatus);
  });

  it('sends a provider usage object and a whole provider response with the generated client', async () => {
    const baseUrl = await listening();
    const { providerUsageScenario } = await import('../fixtures/openapi-client/admin-scenario');
    // Anthropic's disjoint buckets summed (12 + 900 read + 88 written), then the chat response's 500
    expect(await providerUsageScenario(baseUrl, t.token('root', { role: 'admin' }))).toEqual({
      accepted: 2,
      inputTokens: 1_500,
      cachedInputTokens: 900,
      outputTokens: 100,
    });
  });

  it('reserves, settles through ingest and reads the quota with the generated client', async () => {
    const baseUrl = await listening();
    const { quotaScenario } = await import('../fixtures/openapi-client/admin-scenario');
    const result = await quotaScenario(
      baseUrl,
      t.token('root', { role: 'admin' }),
      t.token('quinn', { role: 'member' }),
    );
    expect(result).toEqual({
      granted: true,
      heldWhileOpen: 2000,
      retriedSameReservation: true,
      // 3,000 tokens recorded (more than estimated): past the 50 % threshold
      afterSettle: { used: 3000, reserved: 0, remaining: 2000, status: 'warning' },
      refusal: { statusCode: 429, code: 'quota_exceeded', resetsAt: expect.stringMatching(/^\d{4}-\d{2}-01T/) },
      ownQuotaLimit: 5000,
    });
  });
});
