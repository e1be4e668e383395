import fastifyJwt from '@fastify/jwt';
import type { FastifyInstance, FastifyRequest, onRequestAsyncHookHandler } from 'fastify';
import type { ManageApiKeys } from '../../application/use-cases/manage-api-keys';
import type { JwtPublicKey } from '../../infrastructure/config';
import { ForbiddenError, UnauthorizedError } from '../../domain/errors';
import type { Principal, Role } from '../../domain/principal';
import { holdsUnstorableText } from './request-text-guard';

declare module 'fastify' {
  interface FastifyRequest {
    principal?: Principal;
  }
}

export interface JwtKeys {
  secret?: string;
  /** read and checked once, by the configuration */
  publicKey?: JwtPublicKey;
}

/** Workspace ids appear in API keys and URLs: keep them to a safe, bounded alphabet. */
export const WORKSPACE_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;
const MAX_SUBJECT_LENGTH = 200;

export async function registerJwt(app: FastifyInstance, keys: JwtKeys): Promise<void> {
  if (!keys.secret && !keys.publicKey) throw new Error('no JWT secret or public key to verify tokens with');
  await app.register(fastifyJwt, {
    secret: keys.secret ?? { public: keys.publicKey!.pem, private: '' },
    verify: { algorithms: keys.secret ? ['HS256'] : [keys.publicKey!.algorithm] },
  });
}

/** Turns verified claims into a principal; bad claims are as good as a bad signature. */
export function principalFromClaims(claims: Record<string, unknown>): Principal {
  const { sub, role = 'member', workspaceId = 'default' } = claims;
  if (typeof sub !== 'string' || sub.length === 0 || sub.length > MAX_SUBJECT_LENGTH) {
    throw new UnauthorizedError('token has no valid "sub" claim');
  }
  // a user id no database column holds: stored, a lone surrogate would become U+FFFD and two
  // users one, and a NUL failed every statement (a 500)
  if (holdsUnstorableText(sub)) {
    throw new UnauthorizedError('token "sub" claim holds a NUL or an unpaired surrogate character');
  }
  if (role !== 'admin' && role !== 'member') throw new UnauthorizedError('token "role" must be admin or member');
  if (typeof workspaceId !== 'string' || !WORKSPACE_ID_PATTERN.test(workspaceId)) {
    throw new UnauthorizedError('token "workspaceId" claim is not a valid workspace id');
  }
  return { kind: 'user', userId: sub, role: role as Role, workspaceId };
}

async function userFrom(request: FastifyRequest): Promise<Principal> {
  let claims: Record<string, unknown>;
  try {
    claims = await request.jwtVerify<Record<string, unknown>>();
  } catch (error) {
    const code = (error as { code?: string }).code;
    throw new UnauthorizedError(
      code === 'FST_JWT_NO_AUTHORIZATION_IN_HEADER'
        ? 'authentication required: send Authorization: Bearer <JWT>'
        : code === 'FST_JWT_AUTHORIZATION_TOKEN_EXPIRED'
          ? 'token expired'
          : 'invalid token',
    );
  }
  return principalFromClaims(claims);
}

export interface AccessRule {
  /** accept an API key (`X-API-Key`, or `Authorization: Bearer tt_…`) as well as a JWT */
  apiKey?: boolean;
  role?: Role;
}

/**
 * An API key sent as a bearer token, as exporters and gateways that only set `Authorization`
 * send it. API keys start with `tt_`; a JWT never does (its header is base64url JSON, `eyJ…`).
 */
const API_KEY_AS_BEARER = /^Bearer\s+(tt_\S+)\s*$/i;

/** An onRequest hook that authenticates the caller and enforces the rule before the route runs. */
export function authorize(rule: AccessRule, apiKeys: ManageApiKeys): onRequestAsyncHookHandler {
  return async (request) => {
    const bearerKey = rule.apiKey ? API_KEY_AS_BEARER.exec(request.headers.authorization ?? '')?.[1] : undefined;
    const presentedKey = request.headers['x-api-key'] ?? bearerKey;
    let principal: Principal;
    if (presentedKey !== undefined && (!request.headers.authorization || bearerKey !== undefined)) {
      if (!rule.apiKey) throw new UnauthorizedError('this endpoint needs a user token (Authorization: Bearer <JWT>)');
      const found = typeof presentedKey === 'string' ? await apiKeys.authenticate(presentedKey) : null;
      if (!found) throw new UnauthorizedError('invalid or revoked API key');
      principal = found;
    } else {
      principal = await userFrom(request);
    }
    if (rule.role === 'admin' && (principal.kind !== 'user' || principal.role !== 'admin')) {
      throw new ForbiddenError('this endpoint needs the admin role');
    }
    request.principal = principal;
  };
}

export function principalOf(request: FastifyRequest): Principal {
  if (!request.principal) throw new UnauthorizedError();
  return request.principal;
}

/** The signed-in user of a route that only users (never API keys) may call. */
export function userOf(request: FastifyRequest): Extract<Principal, { kind: 'user' }> {
  const principal = principalOf(request);
  if (principal.kind !== 'user') throw new UnauthorizedError('this endpoint needs a user token');
  return principal;
}
