import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  ConfigError,
  DEFAULT_PROXY,
  DEFAULT_RATE_LIMIT,
  defaultIngestStatements,
  loadConfig,
  MAX_INGEST_STATEMENTS,
  loadProxyConfig,
  loadRateLimit,
} from '../../src/infrastructure/config';

const SECRET = 'a-secret-of-at-least-thirty-two-bytes!!';

function problemsOf(env: Record<string, string | undefined>): string[] {
  try {
    loadConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).problems;
  }
  throw new Error('expected a ConfigError');
}

describe('loadConfig', () => {
  it('has defaults for an empty environment', () => {
    expect(loadConfig({})).toEqual({
      port: 8080,
      host: '127.0.0.1',
      databaseUrl: undefined,
      jwtSecret: undefined,
      jwtPublicKey: undefined,
      deploymentMode: 'self-hosted',
      maxBatchRecords: 1000,
      rawRetentionDays: 90,
      ingestStatements: defaultIngestStatements(),
      logLevel: 'info',
      dataDir: '.data',
    });
  });

  it('treats blank values as unset', () => {
    expect(loadConfig({ PORT: '', DEPLOYMENT_MODE: '  ', DATABASE_URL: '' })).toMatchObject({
      port: 8080,
      deploymentMode: 'self-hosted',
      databaseUrl: undefined,
    });
  });

  it('reads valid values', () => {
    const config = loadConfig({
      PORT: '9090',
      HOST: '0.0.0.0',
      DATABASE_URL: 'postgres://u:p@db:5432/tokentally',
      JWT_SECRET: SECRET,
      DEPLOYMENT_MODE: 'cloud',
      MAX_BATCH_RECORDS: '5000',
      LOG_LEVEL: 'debug',
    });
    expect(config).toMatchObject({
      port: 9090,
      host: '0.0.0.0',
      databaseUrl: 'postgres://u:p@db:5432/tokentally',
      jwtSecret: SECRET,
      deploymentMode: 'cloud',
      maxBatchRecords: 5000,
      logLevel: 'debug',
    });
    expect(loadConfig({ DATABASE_URL: 'postgresql://localhost/x' }).databaseUrl).toBe('postgresql://localhost/x');
  });

  it('accepts a PEM public key instead of a secret', () => {
    const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const pem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
    const read = { pem: pem.trim(), algorithm: 'ES256' };
    expect(loadConfig({ JWT_PUBLIC_KEY: pem }).jwtPublicKey).toEqual(read);
    // a one-line value with literal \n, as env files often hold it
    expect(loadConfig({ JWT_PUBLIC_KEY: pem.trim().replace(/\n/g, '\\n') }).jwtPublicKey).toEqual(read);
  });

  it.each([
    [{ PORT: 'abc' }, /^PORT .*"abc"/],
    [{ PORT: '70000' }, /^PORT must be a whole number from 0 to 65535/],
    [{ PORT: '-1' }, /^PORT /],
    [{ PORT: '80.5' }, /^PORT /],
    [{ DEPLOYMENT_MODE: 'saas' }, /^DEPLOYMENT_MODE must be one of self-hosted, cloud, got "saas"/],
    [{ MAX_BATCH_RECORDS: '0' }, /^MAX_BATCH_RECORDS must be a whole number from 1 to 10000, got "0"/],
    [{ MAX_BATCH_RECORDS: '10001' }, /^MAX_BATCH_RECORDS /],
    [{ JWT_SECRET: 'short' }, /^JWT_SECRET must be at least 32 bytes/],
    [{ JWT_PUBLIC_KEY: 'not a key' }, /^JWT_PUBLIC_KEY must be a PEM public key/],
    [{ DATABASE_URL: 'mysql://localhost/db' }, /^DATABASE_URL must be a postgres:\/\//],
    [{ DATABASE_URL: 'localhost:5432' }, /^DATABASE_URL /],
    // the driver stopped the start later with "Invalid URL", naming nothing
    [{ DATABASE_URL: 'postgres://user:pw@db.internal:notaport/app' }, /^DATABASE_URL is not a valid URL/],
    [{ HOST: 'not a host!' }, /^HOST must be an IP address or a host name/],
    [
      { JWT_PUBLIC_KEY: '-----BEGIN PUBLIC KEY-----\nZ2FyYmFnZQ==\n-----END PUBLIC KEY-----' },
      /^JWT_PUBLIC_KEY could not be read/,
    ],
    [{ LOG_LEVEL: 'loud' }, /^LOG_LEVEL must be one of/],
    [{ RAW_RETENTION_DAYS: '0' }, /^RAW_RETENTION_DAYS /],
  ])('rejects %o with one clear problem', (env, message) => {
    const problems = problemsOf(env);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(message);
  });

  it('takes RSA and EC P-256 public keys only, at start (a P-384 key failed at the first request)', () => {
    const pem = (key: ReturnType<typeof generateKeyPairSync>['publicKey']) =>
      key.export({ type: 'spki', format: 'pem' }).toString();
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey;
    expect(loadConfig({ JWT_PUBLIC_KEY: pem(rsa) }).jwtPublicKey).toEqual({ pem: pem(rsa).trim(), algorithm: 'RS256' });
    const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' }).publicKey;
    expect(problemsOf({ JWT_PUBLIC_KEY: pem(p384) })).toEqual([
      'JWT_PUBLIC_KEY must be an RSA or an EC P-256 key, got ec (secp384r1)',
    ]);
    const ed = generateKeyPairSync('ed25519').publicKey;
    expect(problemsOf({ JWT_PUBLIC_KEY: pem(ed) })).toEqual([
      'JWT_PUBLIC_KEY must be an RSA or an EC P-256 key, got ed25519',
    ]);
  });

  it('takes host names and IP addresses to listen on', () => {
    for (const HOST of ['0.0.0.0', '::', 'localhost', 'tokentally.internal', 'fe80::1']) {
      expect(loadConfig({ HOST }).host).toBe(HOST);
    }
  });

  it('rejects JWT_SECRET together with JWT_PUBLIC_KEY', () => {
    const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const pem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
    expect(problemsOf({ JWT_SECRET: SECRET, JWT_PUBLIC_KEY: pem })).toEqual([
      'set either JWT_SECRET (HS256) or JWT_PUBLIC_KEY (RS256/ES256), not both',
    ]);
  });

  it('lists every problem at once, in the error message too', () => {
    let caught: unknown;
    try {
      loadConfig({
        PORT: 'abc',
        DEPLOYMENT_MODE: 'saas',
        MAX_BATCH_RECORDS: '0',
        JWT_SECRET: 'short',
        DATABASE_URL: 'not-a-url',
      });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    const error = caught as ConfigError;
    expect(error.problems).toHaveLength(5);
    for (const name of ['PORT', 'DEPLOYMENT_MODE', 'MAX_BATCH_RECORDS', 'JWT_SECRET', 'DATABASE_URL']) {
      expect(error.problems.some((p) => p.startsWith(name))).toBe(true);
      expect(error.message).toContain(name);
    }
    expect(error.message).toMatch(/^Invalid configuration:\n {2}- /);
  });
});

describe('loadRateLimit', () => {
  it('limits by default, high enough that the bench never meets it', () => {
    const rateLimit = loadRateLimit({});
    expect(rateLimit).toEqual({ enabled: true, max: 60_000, windowMs: 10_000 });
    expect(rateLimit).toEqual(DEFAULT_RATE_LIMIT);
    const perSecond = (rateLimit.max * 1000) / rateLimit.windowMs;
    // the bench's heaviest load from one API key: 2,000 quota reservations/s for 60 s (its
    // ingest is at most ~50 batches/s); a fixed window sees rate × window of them
    const benchPerWindow = (2_000 * rateLimit.windowMs) / 1000;
    expect(benchPerWindow).toBe(20_000);
    expect(rateLimit.max).toBeGreaterThanOrEqual(3 * benchPerWindow);
    expect(perSecond).toBe(6_000);
    // a burst of 5,000 requests of one key fits into one window
    expect(rateLimit.max).toBeGreaterThan(5_000);
  });

  it('reads valid values and switches off', () => {
    expect(loadRateLimit({ RATE_LIMIT_MAX: '100', RATE_LIMIT_WINDOW_MS: '1000' })).toEqual({
      enabled: true,
      max: 100,
      windowMs: 1000,
    });
    expect(loadRateLimit({ RATE_LIMIT_ENABLED: '0' }).enabled).toBe(false);
    expect(loadRateLimit({ RATE_LIMIT_ENABLED: 'false' }).enabled).toBe(false);
    expect(loadRateLimit({ RATE_LIMIT_ENABLED: '1' }).enabled).toBe(true);
    expect(loadRateLimit({ RATE_LIMIT_ENABLED: ' ' }).enabled).toBe(true);
  });

  it('reports every bad value', () => {
    let problems: string[] = [];
    try {
      loadRateLimit({ RATE_LIMIT_ENABLED: 'off', RATE_LIMIT_MAX: '0', RATE_LIMIT_WINDOW_MS: '500' });
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      problems = (error as ConfigError).problems;
    }
    expect(problems).toEqual([
      expect.stringContaining('RATE_LIMIT_ENABLED'),
      expect.stringContaining('RATE_LIMIT_MAX'),
      expect.stringContaining('RATE_LIMIT_WINDOW_MS'),
    ]);
  });
});

describe('loadProxyConfig', () => {
  it("forwards to the providers' own APIs by default", () => {
    expect(loadProxyConfig({})).toEqual({
      openaiUpstreamUrl: 'https://api.openai.com/v1',
      anthropicUpstreamUrl: 'https://api.anthropic.com',
    });
    expect(loadProxyConfig({})).toEqual(DEFAULT_PROXY);
  });

  it('reads other upstreams, without a trailing slash', () => {
    expect(
      loadProxyConfig({
        OPENAI_UPSTREAM_URL: 'http://127.0.0.1:9000/v1/',
        ANTHROPIC_UPSTREAM_URL: 'https://gw.example',
      }),
    ).toEqual({ openaiUpstreamUrl: 'http://127.0.0.1:9000/v1', anthropicUpstreamUrl: 'https://gw.example' });
  });

  it('refuses what is not an http(s) URL, or carries credentials, a query or a fragment, naming each', () => {
    const problems = (env: Record<string, string>): string[] => {
      try {
        loadProxyConfig(env);
        return [];
      } catch (error) {
        return (error as ConfigError).problems;
      }
    };
    expect(problems({ OPENAI_UPSTREAM_URL: 'ftp://x', ANTHROPIC_UPSTREAM_URL: 'https://u:p@x' })).toEqual([
      expect.stringContaining('OPENAI_UPSTREAM_URL'),
      expect.stringContaining('ANTHROPIC_UPSTREAM_URL'),
    ]);
    expect(problems({ OPENAI_UPSTREAM_URL: 'not a url' })).toHaveLength(1);
    expect(problems({ OPENAI_UPSTREAM_URL: 'https://x/v1?key=1' })).toHaveLength(1);
  });
});

describe('INGEST_STATEMENTS', () => {
  it('defaults to half the cores, at least one and at most half the request pool', () => {
    expect([1, 2, 3, 4, 8, 64].map((cores) => defaultIngestStatements(cores))).toEqual([
      1,
      1,
      1,
      2,
      4,
      MAX_INGEST_STATEMENTS,
    ]);
    expect(loadConfig({}).ingestStatements).toBe(defaultIngestStatements());
  });

  it('reads a value within its range and names the setting when it is not', () => {
    expect(loadConfig({ INGEST_STATEMENTS: '3' }).ingestStatements).toBe(3);
    expect(() => loadConfig({ INGEST_STATEMENTS: '0' })).toThrow(
      /INGEST_STATEMENTS must be a whole number from 1 to 5/,
    );
    expect(() => loadConfig({ INGEST_STATEMENTS: String(MAX_INGEST_STATEMENTS + 1) })).toThrow(/INGEST_STATEMENTS/);
  });
});
