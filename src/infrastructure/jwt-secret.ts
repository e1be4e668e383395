import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError } from './config';

export const JWT_SECRET_FILE = 'jwt-secret';

/** As JWT_SECRET asks of a secret. */
const MIN_SECRET_BYTES = 32;

/**
 * The development signing secret kept under the data folder; created on first use. A file
 * that holds no usable secret (emptied, cut short) stops the start, naming it.
 */
export function devJwtSecret(dataDir: string): { secret: string; created: boolean; path: string } {
  const path = join(dataDir, JWT_SECRET_FILE);
  if (existsSync(path)) {
    const secret = readFileSync(path, 'utf8').trim();
    if (Buffer.byteLength(secret) < MIN_SECRET_BYTES) {
      throw new ConfigError([
        `${path} holds no usable JWT signing secret (at least ${MIN_SECRET_BYTES} bytes): delete it to have a new one made, or set JWT_SECRET`,
      ]);
    }
    return { secret, created: false, path };
  }
  mkdirSync(dataDir, { recursive: true });
  const secret = randomBytes(48).toString('base64url');
  writeFileSync(path, `${secret}\n`, { mode: 0o600 });
  return { secret, created: true, path };
}
