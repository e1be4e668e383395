import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/infrastructure/config';
import { devJwtSecret, JWT_SECRET_FILE } from '../../src/infrastructure/jwt-secret';

const dirs: string[] = [];
const freshDir = (): string => {
  const dir = mkdtempSync(join(tmpdir(), 'jwt-secret-'));
  dirs.push(dir);
  return dir;
};
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe('the generated JWT signing secret', () => {
  it('is made on first use and read again after', () => {
    const dir = freshDir();
    const made = devJwtSecret(dir);
    expect(made.created).toBe(true);
    expect(Buffer.byteLength(made.secret)).toBeGreaterThanOrEqual(32);
    expect(readFileSync(join(dir, JWT_SECRET_FILE), 'utf8').trim()).toBe(made.secret);
    expect(devJwtSecret(dir)).toEqual({ ...made, created: false });
  });

  it('stops the start, naming the file, when the file holds no usable secret', () => {
    // emptied: the start died later with a message naming neither; cut short: used as it was
    for (const content of ['\n', 'abc\n']) {
      const dir = freshDir();
      writeFileSync(join(dir, JWT_SECRET_FILE), content);
      expect(() => devJwtSecret(dir)).toThrow(ConfigError);
      expect(() => devJwtSecret(dir)).toThrow(join(dir, JWT_SECRET_FILE));
    }
  });
});
