import 'reflect-metadata';
import { once } from 'node:events';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { RunningService } from '../../src/composition-root';
import { createContainer, systemClock } from '../../src/composition-root';
import type { DeploymentMode } from '../../src/domain/deployment-mode';
import { createDataSource } from '../../src/infrastructure/persistence/data-source';
import type { HostResolver } from '../../src/infrastructure/webhooks/destination';
import type { WebhookWorkerOptions } from '../../src/infrastructure/webhooks/webhook-delivery-worker';
import { buildApp } from '../../src/interface/http/app';
import { createTestDatabase, signTestToken, startTestService, TEST_JWT_SECRET, type TestApp } from './test-app';

/** A bearer header for a user of `workspaceId` (an admin unless said otherwise). */
export function bearerFor(sub: string, workspaceId = 'default', role: 'admin' | 'member' = 'admin') {
  return { authorization: `Bearer ${signTestToken({ sub, role, workspaceId })}` };
}

/**
 * A host resolver from a table (name → addresses); a function value answers each lookup
 * anew (to change a name's addresses between the check at creation and a delivery).
 */
export function tableResolver(table: Record<string, string[] | (() => string[])>): HostResolver {
  return async (hostname) => {
    const entry = table[hostname];
    if (entry === undefined) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
    const addresses = typeof entry === 'function' ? entry() : entry;
    return addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
  };
}

/**
 * The HTTP app alone (no background worker) on a fresh database, with its own host resolver:
 * for the admin routes and the URL checks.
 */
export async function createWebhookApp(
  options: { deploymentMode?: DeploymentMode; resolveHost?: HostResolver } = {},
): Promise<TestApp> {
  const database = await createTestDatabase();
  const db = createDataSource(database.url, 3);
  await db.initialize();
  const settings = {
    deploymentMode: options.deploymentMode ?? 'self-hosted',
    maxBatchRecords: 1000,
    rawRetentionDays: 3650,
  };
  const container = createContainer(db, settings, systemClock, { resolveHost: options.resolveHost });
  const app = await buildApp({
    container,
    jwt: { secret: TEST_JWT_SECRET },
    ...settings,
    logLevel: process.env.TEST_LOG_LEVEL ?? 'silent',
  });
  await app.ready();
  return {
    app,
    db,
    container,
    databaseUrl: database.url,
    token() {
      throw new Error('use bearerFor');
    },
    async close() {
      await app.close();
      await db.destroy();
      await database.drop();
    },
  };
}

/** A whole service instance (HTTP app, fold, webhook worker) on `databaseUrl`. */
export function startWebhookService(
  databaseUrl: string,
  webhooks: Omit<WebhookWorkerOptions, 'deploymentMode'> = {},
  deploymentMode: DeploymentMode = 'self-hosted',
): Promise<RunningService> {
  return startTestService(databaseUrl, {
    settings: { deploymentMode },
    poolSize: 2,
    webhooks: { pollIntervalMs: 20, jitter: 0, retryScheduleMs: [0, 50, 50, 50, 50], ...webhooks },
  });
}

export interface ReceivedWebhook {
  headers: IncomingHttpHeaders;
  body: string;
  /** performance.now() when it arrived */
  at: number;
}

export interface Receiver {
  url: string;
  port: number;
  received: ReceivedWebhook[];
  close(): Promise<void>;
}

/**
 * A webhook receiver on loopback (on `port`, or any free one): every request is kept, and
 * `answer` says what to reply to it (status and headers), given what came before it.
 */
export async function startReceiver(
  answer: (
    request: ReceivedWebhook,
    before: ReceivedWebhook[],
  ) => { status: number; headers?: Record<string, string> } = () => ({
    status: 204,
  }),
  port = 0,
): Promise<Receiver> {
  const received: ReceivedWebhook[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const request = { headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), at: performance.now() };
      const reply = answer(request, [...received]);
      received.push(request);
      res.writeHead(reply.status, reply.headers).end();
    });
  });
  server.listen(port, '127.0.0.1');
  await once(server, 'listening');
  const bound = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${bound}/hook`,
    port: bound,
    received,
    close: () =>
      new Promise((done) => {
        server.closeAllConnections();
        server.close(() => done());
      }),
  };
}
