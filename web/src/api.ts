import createClient, { type Middleware } from 'openapi-fetch';
import type { components, paths } from './generated/api';

/**
 * The API through a client generated from the service's own OpenAPI document
 * (`npm run build:web` regenerates it): a changed contract fails the page's build.
 */
export type Schemas = components['schemas'];
type Json<P extends keyof paths> = paths[P] extends {
  get: { responses: { 200: { content: { 'application/json': infer T } } } };
}
  ? T
  : never;
export type Stats = Json<'/v1/admin/usage/stats'>;
export type Providers = Json<'/v1/admin/usage/providers'>;
export type Models = Json<'/v1/admin/usage/models'>;
export type Users = Json<'/v1/admin/usage/users'>;
export type UserDetail = Json<'/v1/admin/usage/users/{userId}'>;
export type Realtime = Json<'/v1/admin/usage/realtime'>;
export type MyUsage = Json<'/v1/me/usage'>;
export type MyActivity = Json<'/v1/me/activity'>;
export type Quota = Json<'/v1/me/quota'>;
export type UsageConfig = Json<'/v1/usage/config'>;
export type Granularity = 'hour' | 'day' | 'week' | 'month';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export type Api = ReturnType<typeof createApi>;

export function createApi(token: string, onUnauthorized: () => void) {
  const client = createClient<paths>({ baseUrl: window.location.origin });
  const auth: Middleware = {
    onRequest({ request }) {
      request.headers.set('authorization', `Bearer ${token}`);
      return request;
    },
    onResponse({ response }) {
      if (response.status === 401) onUnauthorized();
      return response;
    },
  };
  client.use(auth);
  return client;
}

/** The data of an answer, or an ApiError with the service's message. */
export async function ok<T>(call: Promise<{ data?: T; error?: unknown; response: Response }>): Promise<T> {
  const { data, error, response } = await call;
  if (data !== undefined) return data;
  const message = (error as { message?: string } | undefined)?.message ?? response.statusText;
  throw new ApiError(response.status, message || `HTTP ${response.status}`);
}
