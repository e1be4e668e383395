import 'reflect-metadata';
import { join, resolve } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { startService, type RunningService } from './composition-root';
import { ConfigError, loadConfig, loadDatabaseTimeouts, loadProxyConfig, loadRateLimit } from './infrastructure/config';
import { startEmbeddedPostgres, type RunningPostgres } from './infrastructure/embedded-postgres';
import { devJwtSecret } from './infrastructure/jwt-secret';

// V8 lets the old generation grow to several times its live size (~45 MB here) before a full
// collection; at full ingest speed that put the process at 310-340 MB. Growing it by 30% at
// a time keeps it near 200 MB for the same throughput (npm run bench, the ingest part).
setFlagsFromString('--heap-growing-percent=30');

/** Every setting, every bad value reported at once. */
function loadEverything(env: NodeJS.ProcessEnv): {
  config: ReturnType<typeof loadConfig>;
  timeouts: ReturnType<typeof loadDatabaseTimeouts>;
  rateLimit: ReturnType<typeof loadRateLimit>;
  proxy: ReturnType<typeof loadProxyConfig>;
} {
  const problems: string[] = [];
  const attempt = <T>(load: () => T): T | undefined => {
    try {
      return load();
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      problems.push(...error.problems);
      return undefined;
    }
  };
  const config = attempt(() => loadConfig(env));
  const timeouts = attempt(() => loadDatabaseTimeouts(env));
  const rateLimit = attempt(() => loadRateLimit(env));
  const proxy = attempt(() => loadProxyConfig(env));
  if (!config || !timeouts || !rateLimit || !proxy) throw new ConfigError(problems);
  return { config, timeouts, rateLimit, proxy };
}

/** A signal asked the service to stop; a start that fails after it is no error to report. */
let stopping = false;

async function main(): Promise<void> {
  const { config, timeouts, rateLimit, proxy } = loadEverything(process.env);
  const say = (message: string): void => console.log(`[tokentally] ${message}`);

  // From the first moment on, Ctrl-C, SIGTERM or SIGHUP stops what has started so far. Before, a signal
  // during the start ended the process at once (Node's default) and left the embedded
  // PostgreSQL, in a process group of its own, running without it on the data folder.
  const startAborted = new AbortController();
  let embeddedStart: Promise<RunningPostgres | undefined> = Promise.resolve(undefined);
  let service: RunningService | undefined;
  let listening = false;
  const shutdown = async (signal: string): Promise<void> => {
    if (stopping) return;
    stopping = true;
    say(`${signal} received, ${listening ? 'shutting down' : 'stopping the start'}`);
    // a PostgreSQL still starting is stopped again; one that runs ends the migrations' sessions
    startAborted.abort(new Error(`${signal} received`));
    await service?.stop();
    const embedded = await embeddedStart.catch(() => undefined);
    await embedded?.stop();
    say('stopped');
    process.exit(0);
  };
  // SIGHUP: the terminal closed (or the ssh session dropped), whose output may be gone too: a
  // write that fails then must not end the process before the database is stopped
  for (const stream of [process.stdout, process.stderr]) stream.on('error', () => undefined);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => void shutdown(signal));

  // before the database starts: a secret file that holds none stops the start with nothing to undo
  let jwt = { secret: config.jwtSecret, publicKey: config.jwtPublicKey };
  if (!jwt.secret && !jwt.publicKey) {
    const dev = devJwtSecret(config.dataDir);
    say(
      `${dev.created ? 'generated a JWT signing secret in' : 'using the JWT signing secret in'} ${dev.path} (set JWT_SECRET or JWT_PUBLIC_KEY in production)`,
    );
    jwt = { secret: dev.secret, publicKey: undefined };
  }

  let embedded: RunningPostgres | undefined;
  let databaseUrl = config.databaseUrl;
  if (!databaseUrl) {
    say(`starting the embedded PostgreSQL (data in ${join(config.dataDir, 'pg')}; set DATABASE_URL to use your own)`);
    const starting = startEmbeddedPostgres({
      dir: join(config.dataDir, 'pg'),
      log: (m) => config.logLevel === 'debug' && say(m),
      signal: startAborted.signal,
    });
    embeddedStart = starting;
    embedded = await starting;
    if (stopping) return; // shutdown stops it
    if (embedded.dir !== resolve(config.dataDir, 'pg')) say(`embedded PostgreSQL data is in ${embedded.dir}`);
    databaseUrl = embedded.url;
  }

  try {
    service = await startService({
      databaseUrl,
      settings: {
        deploymentMode: config.deploymentMode,
        maxBatchRecords: config.maxBatchRecords,
        rawRetentionDays: config.rawRetentionDays,
      },
      jwt,
      logLevel: config.logLevel,
      timeouts,
      rateLimit,
      proxy,
      ingestStatements: config.ingestStatements,
    });
  } catch (error) {
    await embedded?.stop();
    throw error;
  }
  if (stopping) return void service.stop(); // shutdown found no service yet; it exits once the database is down
  if (service.seededModels > 0) say(`loaded ${service.seededModels} models into the built-in price catalog`);
  const { app } = service;
  const stopDatabase = async (): Promise<void> => {
    await service?.stop();
    await embedded?.stop();
  };

  // a promise nobody awaited failed (a bug): say so, but a request's or a background job's
  // failure must not end the service for everyone else
  process.on('unhandledRejection', (reason) => app.log.error({ err: reason }, 'unhandled promise rejection'));

  try {
    await app.listen({ port: config.port, host: config.host });
  } catch (error) {
    await stopDatabase();
    throw error;
  }
  if (stopping) return;
  listening = true;
  // the port bound, which PORT=0 leaves to the system
  const address = app.server.address();
  const port = typeof address === 'object' && address !== null ? address.port : config.port;
  const base = `http://${config.host}:${port}`;
  say(`listening on ${base} (${config.deploymentMode}); Usage page at ${base}/, API docs at ${base}/docs`);
  if (jwt.secret && !config.jwtSecret) {
    say('get a token with: npm run token -- --sub alice --role admin (paste it into the Usage page to sign in)');
  }
}

main().catch((error: unknown) => {
  if (stopping) return; // the start failed because a signal stopped it; shutdown exits
  console.error(error instanceof ConfigError ? error.message : error);
  process.exit(1);
});
