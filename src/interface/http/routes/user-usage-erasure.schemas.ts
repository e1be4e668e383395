import { Type } from '@sinclair/typebox';

export const UserUsageParams = Type.Object({
  userId: Type.String({
    minLength: 1,
    maxLength: 200,
    description: 'the user id as recorded on usage records (URL-encoded)',
    examples: ['alice'],
  }),
});

export const UserUsageErased = Type.Object(
  {
    userId: Type.String({ examples: ['alice'] }),
    deletedRecords: Type.Integer({
      minimum: 0,
      description: 'raw usage records deleted (records already past the raw retention window were dropped before)',
      examples: [1520],
    }),
    deletedRollupRows: Type.Integer({
      minimum: 0,
      description:
        'rollup rows deleted: the user’s rows in every per-user rollup, and model-hours that only the user had used',
      examples: [311],
    }),
  },
  {
    description: 'What the erasure removed; zeros when the user had no usage in the workspace',
  },
);
