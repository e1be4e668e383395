import { createPublicKey, type KeyObject } from 'node:crypto';
import { isIP } from 'node:net';
import { availableParallelism } from 'node:os';
import { DEPLOYMENT_MODES, type DeploymentMode } from '../domain/deployment-mode';
import { POOL_SIZE } from './persistence/data-source';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface Config {
  port: number;
  host: string;
  /** absent: start the embedded PostgreSQL under `dataDir` */
  databaseUrl?: string;
  jwtSecret?: string;
  jwtPublicKey?: JwtPublicKey;
  deploymentMode: DeploymentMode;
  maxBatchRecords: number;
  rawRetentionDays: number;
  /** ingest statements one instance runs at once; more batches wait in the service */
  ingestStatements: number;
  logLevel: LogLevel;
  dataDir: string;
}

/** JWT_PUBLIC_KEY, read once at start: its PEM text and the algorithm its key type calls for. */
export interface JwtPublicKey {
  pem: string;
  algorithm: 'RS256' | 'ES256';
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

type Env = Record<string, string | undefined>;

/** How long the service waits for its database (milliseconds; 0: no limit). */
export interface DatabaseTimeouts {
  /** opening a connection, and waiting for a free one of the pool */
  connectMs: number;
  /** one statement of a request, enforced by PostgreSQL (`statement_timeout`) */
  statementMs: number;
}

/** Reads and validates the database timeouts (DATABASE_CONNECT_TIMEOUT_MS, DATABASE_STATEMENT_TIMEOUT_MS). */
export function loadDatabaseTimeouts(env: Env): DatabaseTimeouts {
  const { integer, problems } = reader(env);
  const timeouts: DatabaseTimeouts = {
    connectMs: integer('DATABASE_CONNECT_TIMEOUT_MS', 5_000, 100, 600_000),
    statementMs: integer('DATABASE_STATEMENT_TIMEOUT_MS', 30_000, 0, 3_600_000),
  };
  if (problems.length > 0) throw new ConfigError(problems);
  return timeouts;
}

/**
 * Requests one API key, one user or one anonymous client address may make per window (per
 * instance: the counters are kept in memory). The defaults stop a runaway client, not a busy
 * one: 60,000 per 10 s is 6,000 requests/s, three times the heaviest load the bench puts on one
 * API key (2,000 quota reservations/s; its ingest is at most ~50 batches/s).
 */
export interface RateLimitConfig {
  enabled: boolean;
  max: number;
  windowMs: number;
}

export const DEFAULT_RATE_LIMIT: RateLimitConfig = { enabled: true, max: 60_000, windowMs: 10_000 };

/** Reads and validates the rate limit (RATE_LIMIT_ENABLED, RATE_LIMIT_MAX, RATE_LIMIT_WINDOW_MS). */
export function loadRateLimit(env: Env): RateLimitConfig {
  const { integer, oneOf, problems } = reader(env);
  const enabled = oneOf('RATE_LIMIT_ENABLED', ['1', '0', 'true', 'false'] as const, '1');
  const rateLimit: RateLimitConfig = {
    enabled: enabled === '1' || enabled === 'true',
    max: integer('RATE_LIMIT_MAX', DEFAULT_RATE_LIMIT.max, 1, 100_000_000),
    windowMs: integer('RATE_LIMIT_WINDOW_MS', DEFAULT_RATE_LIMIT.windowMs, 1_000, 86_400_000),
  };
  if (problems.length > 0) throw new ConfigError(problems);
  return rateLimit;
}

/** Where the proxy forwards calls (OPENAI_UPSTREAM_URL, ANTHROPIC_UPSTREAM_URL); the path after the proxy's prefix is appended. */
export interface ProxyConfig {
  openaiUpstreamUrl: string;
  anthropicUpstreamUrl: string;
}

export const DEFAULT_PROXY: ProxyConfig = {
  openaiUpstreamUrl: 'https://api.openai.com/v1',
  anthropicUpstreamUrl: 'https://api.anthropic.com',
};

/** Reads and validates the proxy's upstreams: http(s) URLs without credentials, query or fragment. */
export function loadProxyConfig(env: Env): ProxyConfig {
  const { value, problems } = reader(env);
  const upstream = (name: string, fallback: string): string => {
    const raw = value(name);
    if (raw === undefined) return fallback;
    let url: URL | undefined;
    try {
      url = new URL(raw);
    } catch {
      url = undefined;
    }
    if (!url || !/^https?:$/.test(url.protocol) || url.username || url.password || url.search || url.hash) {
      problems.push(
        `${name} must be an http(s) URL without credentials, query or fragment, got ${JSON.stringify(raw)}`,
      );
      return fallback;
    }
    return raw.replace(/\/+$/, '');
  };
  const proxy: ProxyConfig = {
    openaiUpstreamUrl: upstream('OPENAI_UPSTREAM_URL', DEFAULT_PROXY.openaiUpstreamUrl),
    anthropicUpstreamUrl: upstream('ANTHROPIC_UPSTREAM_URL', DEFAULT_PROXY.anthropicUpstreamUrl),
  };
  if (problems.length > 0) throw new ConfigError(problems);
  return proxy;
}

function reader(env: Env) {
  const problems: string[] = [];
  const value = (name: string): string | undefined => {
    const raw = env[name];
    return raw === undefined || raw.trim() === '' ? undefined : raw.trim();
  };
  const integer = (name: string, fallback: number, min: number, max: number): number => {
    const raw = value(name);
    if (raw === undefined) return fallback;
    const parsed = /^\d+$/.test(raw) ? Number(raw) : NaN;
    if (!Number.isSafeInteger(parsed) || parsed < min || parsed > max) {
      problems.push(`${name} must be a whole number from ${min} to ${max}, got ${JSON.stringify(raw)}`);
      return fallback;
    }
    return parsed;
  };
  const oneOf = <T extends string>(name: string, allowed: readonly T[], fallback: T): T => {
    const raw = value(name);
    if (raw === undefined) return fallback;
    if (!(allowed as readonly string[]).includes(raw)) {
      problems.push(`${name} must be one of ${allowed.join(', ')}, got ${JSON.stringify(raw)}`);
      return fallback;
    }
    return raw as T;
  };
  return { problems, value, integer, oneOf };
}

/**
 * Ingest statements at once by default: half the cores, at least one. PostgreSQL needs the
 * rest for the fold and the queries (on the bench's two cores: one statement at a time kept
 * the fold within seconds of ingest at the same rate; statement-slots.ts).
 */
export function defaultIngestStatements(cores = availableParallelism()): number {
  return Math.min(MAX_INGEST_STATEMENTS, Math.max(1, Math.floor(cores / 2)));
}

/** At most half the request pool: the other half serves the Usage tab, quotas and settlements. */
export const MAX_INGEST_STATEMENTS = POOL_SIZE / 2;

/** Letters, digits, dots and hyphens: a host name to listen on (an IP address is checked apart). */
const HOST_NAME = /^[A-Za-z0-9]([A-Za-z0-9-]{0,62})(\.[A-Za-z0-9]([A-Za-z0-9-]{0,62}))*\.?$/;

/**
 * The key a PEM text holds and the algorithm tokens signed with it use (RSA → RS256, EC P-256 →
 * ES256), or why it is no such key: found at start, not at the first request or after the
 * database started. The one place the text is parsed; the HTTP layer takes the algorithm.
 */
function readPublicKey(pem: string): { key: JwtPublicKey } | { problem: string } {
  let key: KeyObject;
  try {
    key = createPublicKey(pem);
  } catch (error) {
    return { problem: `could not be read as a public key (${(error as Error).message})` };
  }
  if (key.asymmetricKeyType === 'rsa') return { key: { pem, algorithm: 'RS256' } };
  const curve = key.asymmetricKeyDetails?.namedCurve;
  if (key.asymmetricKeyType === 'ec' && curve === 'prime256v1') return { key: { pem, algorithm: 'ES256' } };
  return {
    problem: `must be an RSA or an EC P-256 key, got ${key.asymmetricKeyType ?? 'an unknown type'}${curve ? ` (${curve})` : ''}`,
  };
}

/** Reads and validates the environment; reports every bad value at once. */
export function loadConfig(env: Env): Config {
  const { problems, value, integer, oneOf } = reader(env);
  const databaseUrl = value('DATABASE_URL');
  if (databaseUrl !== undefined && !/^postgres(ql)?:\/\//.test(databaseUrl)) {
    problems.push('DATABASE_URL must be a postgres:// or postgresql:// connection URL');
  } else if (databaseUrl !== undefined && !URL.canParse(databaseUrl)) {
    // the driver would stop the start later with "Invalid URL", naming nothing
    problems.push('DATABASE_URL is not a valid URL (a port must be a number; percent-encode @, : and / in a password)');
  }
  const jwtSecret = value('JWT_SECRET');
  const jwtPublicKeyText = value('JWT_PUBLIC_KEY')?.replace(/\\n/g, '\n');
  let jwtPublicKey: JwtPublicKey | undefined;
  if (jwtSecret !== undefined && jwtPublicKeyText !== undefined) {
    problems.push('set either JWT_SECRET (HS256) or JWT_PUBLIC_KEY (RS256/ES256), not both');
  }
  if (jwtSecret !== undefined && Buffer.byteLength(jwtSecret) < 32) {
    problems.push('JWT_SECRET must be at least 32 bytes long');
  }
  if (jwtPublicKeyText !== undefined && !jwtPublicKeyText.includes('-----BEGIN PUBLIC KEY-----')) {
    problems.push('JWT_PUBLIC_KEY must be a PEM public key (-----BEGIN PUBLIC KEY-----)');
  } else if (jwtPublicKeyText !== undefined) {
    const read = readPublicKey(jwtPublicKeyText);
    if ('problem' in read) problems.push(`JWT_PUBLIC_KEY ${read.problem}`);
    else jwtPublicKey = read.key;
  }
  const host = value('HOST');
  if (host !== undefined && isIP(host) === 0 && !HOST_NAME.test(host)) {
    problems.push(`HOST must be an IP address or a host name, got ${JSON.stringify(host)}`);
  }

  const config: Config = {
    // 0: any free port (the start says which)
    port: integer('PORT', 8080, 0, 65535),
    host: host ?? '127.0.0.1',
    databaseUrl,
    jwtSecret,
    jwtPublicKey,
    deploymentMode: oneOf('DEPLOYMENT_MODE', DEPLOYMENT_MODES, 'self-hosted'),
    maxBatchRecords: integer('MAX_BATCH_RECORDS', 1000, 1, 10000),
    rawRetentionDays: integer('RAW_RETENTION_DAYS', 90, 1, 3650),
    ingestStatements: integer('INGEST_STATEMENTS', defaultIngestStatements(), 1, MAX_INGEST_STATEMENTS),
    logLevel: oneOf('LOG_LEVEL', LOG_LEVELS, 'info'),
    dataDir: value('DATA_DIR') ?? '.data',
  };
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}
