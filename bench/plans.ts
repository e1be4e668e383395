/**
 * The query plans behind a Usage tab call: the endpoint is called once in-process, on an app
 * built like the service's, every usage statement it sends is recorded, and each is run again
 * under EXPLAIN (ANALYZE, BUFFERS). For the notes of endpoints that miss their bar. The plans
 * shown are made for the statement's values; the service runs those that read only rollups with
 * a generic plan (usage-statements.ts), of the same shape, as their ranges are read through
 * arrays the planner cannot see into either way.
 */
import 'reflect-metadata';
import { createSigner } from 'fast-jwt';
import { randomBytes } from 'node:crypto';
import { createContainer } from '../src/composition-root';
import { createDataSource } from '../src/infrastructure/persistence/data-source';
import { UsageStatements } from '../src/infrastructure/persistence/usage-statements';
import { buildApp } from '../src/interface/http/app';

export interface EndpointPlans {
  path: string;
  statements: Array<{ sql: string; plan: string }>;
}

export async function explainEndpoint(
  url: string,
  workspaceId: string,
  rawRetentionDays: number,
  path: string,
): Promise<EndpointPlans> {
  const db = createDataSource(url, 4);
  await db.initialize();
  const recorded: Array<{ sql: string; params: unknown[] }> = [];
  const query = db.query.bind(db);
  let recording = true;
  // the service's statements, each one noted on its way
  const recordingStatements = new (class extends UsageStatements {
    override query<Row>(sql: string, params: unknown[] = []): Promise<Row[]> {
      if (recording) recorded.push({ sql, params });
      return super.query<Row>(sql, params);
    }
  })(db);
  const secret = randomBytes(32).toString('hex');
  const settings = { deploymentMode: 'self-hosted' as const, maxBatchRecords: 1000, rawRetentionDays };
  const container = createContainer(db, settings);
  container.registerInstance(UsageStatements, recordingStatements);
  const app = await buildApp({
    container,
    jwt: { secret },
    ...settings,
    logLevel: 'silent',
  });
  try {
    await app.ready();
    const token = createSigner({ key: secret, algorithm: 'HS256' })({ sub: 'bench-admin', role: 'admin', workspaceId });
    const res = await app.inject({ method: 'GET', url: path, headers: { authorization: `Bearer ${token}` } });
    if (res.statusCode !== 200) throw new Error(`${path} answered ${res.statusCode}: ${res.body.slice(0, 200)}`);
    recording = false;
    const statements: EndpointPlans['statements'] = [];
    for (const { sql, params } of recorded) {
      const rows = (await query(`EXPLAIN (ANALYZE, BUFFERS) ${sql}`, params)) as Array<{ 'QUERY PLAN': string }>;
      statements.push({ sql: sql.replace(/\s+/g, ' ').trim(), plan: rows.map((r) => r['QUERY PLAN']).join('\n') });
    }
    return { path, statements };
  } finally {
    await app.close();
    await db.destroy();
  }
}
