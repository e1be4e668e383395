/**
 * Prints a JWT signed with the service's active HS256 secret (JWT_SECRET, else the one the
 * dev start keeps under the data folder).
 *   npm run token -- --sub alice --role admin [--workspace acme] [--expires 24h]
 */
import { parseArgs } from 'node:util';
import { createSigner } from 'fast-jwt';
import { ConfigError, loadConfig } from '../src/infrastructure/config';
import { devJwtSecret } from '../src/infrastructure/jwt-secret';

const usage = 'usage: npm run token -- --sub <user id> [--role admin|member] [--workspace <id>] [--expires 24h]';

function run(): void {
  const { values } = parseArgs({
    options: {
      sub: { type: 'string' },
      role: { type: 'string', default: 'member' },
      workspace: { type: 'string', default: 'default' },
      expires: { type: 'string', default: '24h' },
    },
  });
  if (!values.sub) throw new Error(`--sub is required\n${usage}`);
  if (values.role !== 'admin' && values.role !== 'member') throw new Error(`--role must be admin or member\n${usage}`);
  const expires = /^(\d+)([smhd])$/.exec(values.expires ?? '');
  if (!expires) throw new Error(`--expires must look like 30m, 24h or 7d\n${usage}`);
  const seconds = Number(expires[1]) * { s: 1, m: 60, h: 3600, d: 86400 }[expires[2] as 's' | 'm' | 'h' | 'd'];

  const config = loadConfig(process.env);
  if (config.jwtPublicKey) {
    throw new Error('the service verifies tokens with JWT_PUBLIC_KEY; sign tokens with your identity provider');
  }
  const secret = config.jwtSecret ?? devJwtSecret(config.dataDir).secret;
  const sign = createSigner({ key: secret, algorithm: 'HS256', expiresIn: seconds * 1000 });
  console.log(sign({ sub: values.sub, role: values.role, workspaceId: values.workspace }));
}

try {
  run();
} catch (error) {
  console.error(error instanceof ConfigError || error instanceof Error ? error.message : error);
  process.exit(1);
}
