import { Type } from '@sinclair/typebox';
import { Nullable } from '../schemas/common';

export const ApiKey = Type.Object(
  {
    id: Type.String({ format: 'uuid' }),
    name: Type.String(),
    prefix: Type.String({ description: 'the start of the key, to recognise it', examples: ['tt_ZGVmYXVsdA.Xk3f9a…'] }),
    createdBy: Type.String(),
    createdAt: Type.String({ format: 'date-time' }),
    lastUsedAt: Nullable(Type.String({ format: 'date-time' }), { description: 'null until the key is first used' }),
    revokedAt: Nullable(Type.String({ format: 'date-time' }), { description: 'null while the key works' }),
  },
  { $id: 'ApiKey', title: 'ApiKey' },
);

export const CreateApiKeyBody = Type.Object(
  { name: Type.String({ minLength: 1, maxLength: 100, examples: ['billing-backend'] }) },
  { additionalProperties: false },
);

export const CreatedApiKey = Type.Object({
  key: Type.String({ description: 'the secret; shown only in this response', examples: ['tt_ZGVmYXVsdA.Xk3f9a…'] }),
  apiKey: Type.Ref(ApiKey),
});

export const ApiKeyList = Type.Object({ items: Type.Array(Type.Ref(ApiKey)) });

export const ApiKeyParams = Type.Object({ id: Type.String({ format: 'uuid' }) });
