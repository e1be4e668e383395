import * as crypto from 'node:crypto';
import { createSigner } from 'fast-jwt';
import Fastify from 'fastify';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { loadConfig } from '../../src/infrastructure/config';
import { registerJwt } from '../../src/interface/http/auth';

// every parse of a PEM text in the service's own code goes through this spy
vi.mock('node:crypto', async (original) => {
  const actual = await original<typeof crypto>();
  return { ...actual, createPublicKey: vi.fn(actual.createPublicKey) };
});

afterEach(() => vi.mocked(crypto.createPublicKey).mockClear());

/** What `npm start` does with JWT_PUBLIC_KEY: the configuration, then the app's token check. */
async function startWith(publicKey: crypto.KeyObject) {
  const pem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
  const config = loadConfig({ JWT_PUBLIC_KEY: pem });
  const app = Fastify();
  await registerJwt(app, { secret: config.jwtSecret, publicKey: config.jwtPublicKey });
  await app.ready();
  return app;
}

describe('JWT_PUBLIC_KEY at start', () => {
  it.each([
    ['EC P-256', 'ES256', () => crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' })],
    ['RSA', 'RS256', () => crypto.generateKeyPairSync('rsa', { modulusLength: 2048 })],
  ] as const)('is parsed once (%s), and tokens signed with it verify', async (_kind, algorithm, generate) => {
    const { publicKey, privateKey } = generate();
    vi.mocked(crypto.createPublicKey).mockClear();
    const app = await startWith(publicKey);
    // the configuration read the key and its algorithm; the app used to parse the text again
    expect(crypto.createPublicKey).toHaveBeenCalledTimes(1);

    const key = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const token = createSigner({ key, algorithm })({ sub: 'alice' });
    expect(app.jwt.verify<{ sub: string }>(token).sub).toBe('alice');
    // only the key's own algorithm: not HS256 with the public key's text as the secret
    const forged = createSigner({
      key: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
      algorithm: 'HS256',
    })({ sub: 'mallory' });
    expect(() => app.jwt.verify(forged)).toThrow();
    await app.close();
  });
});
