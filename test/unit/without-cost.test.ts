import { Type } from '@sinclair/typebox';
import { describe, expect, it } from 'vitest';
import { StringEnum } from '../../src/interface/http/schemas/common';
import {
  CostField,
  CostOnly,
  WithCostValues,
  withoutCost,
  withoutCostSchemas,
} from '../../src/interface/http/schemas/cost';

/** The cloud variant of a schema, derived from the cost marks; the marks themselves never reach JSON. */
const json = (value: unknown) => JSON.parse(JSON.stringify(value)) as unknown;

describe('withoutCost', () => {
  const Row = Type.Object({
    requests: Type.Integer(),
    cost: CostField(Type.String()),
    nested: Type.Array(Type.Object({ unpriced: CostField(Type.Integer()), tokens: Type.Integer() })),
  });

  it('leaves the schema as written where cost is shown: a mark is no keyword', () => {
    expect(json(Row)).toEqual(
      json(
        Type.Object({
          requests: Type.Integer(),
          cost: Type.Optional(Type.String()),
          nested: Type.Array(Type.Object({ unpriced: Type.Optional(Type.Integer()), tokens: Type.Integer() })),
        }),
      ),
    );
  });

  it('leaves out every cost property, however deep, and anything around a schema is walked too', () => {
    const route = { operationId: 'x', tags: ['t'], response: { 200: Row } };
    expect(json(withoutCost(route))).toEqual({
      operationId: 'x',
      tags: ['t'],
      response: {
        200: {
          type: 'object',
          properties: {
            requests: { type: 'integer' },
            nested: {
              type: 'array',
              items: { type: 'object', properties: { tokens: { type: 'integer' } }, required: ['tokens'] },
            },
          },
          required: ['requests', 'nested'],
        },
      },
    });
    // the schema it was derived from is left as it was
    expect(Object.keys(Row.properties)).toEqual(['requests', 'cost', 'nested']);
  });

  it('takes a required cost property out of `required`, and an empty `required` away', () => {
    const OnlyCost = Type.Object({ cost: CostOnly(Type.String()) });
    expect(OnlyCost.required).toEqual(['cost']);
    expect(json(withoutCost(OnlyCost))).toEqual({ type: 'object', properties: {} });
  });

  it('leaves the cost values out of an enum, with the note on them', () => {
    const Sort = WithCostValues(StringEnum(['tokens', 'cost'], { description: 'how' }), ['cost'], 'cost: by cost');
    expect(json(Sort)).toEqual({ type: 'string', enum: ['tokens', 'cost'], description: 'how; cost: by cost' });
    expect(json(withoutCost(Sort))).toEqual({ type: 'string', enum: ['tokens'], description: 'how' });
  });

  it('refuses a cost-only schema anywhere but as a property', () => {
    expect(() => withoutCost(Type.Array(CostOnly(Type.String())))).toThrow(/#\/items: a cost-only schema/);
  });

  it('registers no cost-only shared schema, and the others without cost', () => {
    const Shown = Type.Object({ id: Type.String(), cost: CostField(Type.String()) }, { $id: 'Shown' });
    const Hidden = CostOnly(Type.Object({ cost: Type.String() }, { $id: 'Hidden' }));
    expect(json(withoutCostSchemas([Shown, Hidden]))).toEqual([
      { $id: 'Shown', type: 'object', properties: { id: { type: 'string' } }, required: ['id'] },
    ]);
  });
});
