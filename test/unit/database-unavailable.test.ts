import { describe, expect, it } from 'vitest';
import { DatabaseUnavailableError } from '../../src/domain/errors';
import { sayingUnavailable } from '../../src/infrastructure/persistence/database-unavailable';

const failing = (error: unknown) => () => Promise.reject(error);
const withCode = (message: string, code: string) => Object.assign(new Error(message), { code });

describe('sayingUnavailable', () => {
  it('passes a result through', async () => {
    expect(await sayingUnavailable(() => Promise.resolve(42))).toBe(42);
  });

  it('reports a lost connection, a shutdown, a timeout or a full pool as DatabaseUnavailableError, keeping the original', async () => {
    const failures = [
      withCode('terminating connection due to administrator command', '57P01'),
      withCode('canceling statement due to statement timeout', '57014'),
      withCode('connect ECONNREFUSED 127.0.0.1:5432', 'ECONNREFUSED'),
      new Error('timeout exceeded when trying to connect'),
      // as TypeORM wraps the driver's error
      Object.assign(new Error('Query failed'), { driverError: new Error('Connection terminated unexpectedly') }),
    ];
    for (const failure of failures) {
      const error = await sayingUnavailable(failing(failure)).catch((e: unknown) => e);
      expect(error, String(failure)).toBeInstanceOf(DatabaseUnavailableError);
      expect((error as { cause?: unknown }).cause).toBe(failure);
    }
  });

  it('leaves every other failure as it was', async () => {
    const own = new DatabaseUnavailableError('busy');
    for (const failure of [withCode('duplicate key value', '23505'), new TypeError('a bug'), own]) {
      await expect(sayingUnavailable(failing(failure))).rejects.toBe(failure);
    }
  });
});
