import { Type, type TOptional, type TSchema } from '@sinclair/typebox';
import type { FastifyInstance, FastifySchema } from 'fastify';

/*
 * Cost exists only where the deployment shows it (self-hosted); cloud mode hides every cost
 * field. A schema about cost is marked once, where it is defined (`CostField`, `CostOnly`,
 * `WithCostValues`), and `withoutCost` derives the cloud variant of any schema from the marks.
 * Cloud mode applies it as the shared schemas and the routes are registered (app.ts), so the
 * document, the response serializers and the query validators of a cloud service know no cost
 * field. The marks are symbols: they never reach a document, so a self-hosted document is the
 * schemas as written.
 */
const COST = Symbol('cost only');
const COST_VALUES = Symbol('cost-only enum values');

interface CostValues {
  values: readonly unknown[];
  /** the description without the note on the cost values */
  description: string | undefined;
}

/** A schema that exists only where cost is shown: in cloud mode a shared one is not registered at all. */
export function CostOnly<T extends TSchema>(schema: T): T {
  return { ...schema, [COST]: true };
}

/** An object's property about cost: optional, and absent in cloud mode (absent, not null). */
export function CostField<T extends TSchema>(schema: T): TOptional<T> {
  return Type.Optional(CostOnly(schema)) as TOptional<T>;
}

/**
 * A string enum of which some values are about cost (a sort by cost): `note`, added to the
 * description, tells of them; in cloud mode neither the values nor the note are there, and a
 * request naming such a value is refused by the route's validator.
 */
export function WithCostValues<T extends TSchema>(schema: T, values: readonly string[], note: string): T {
  const description = typeof schema.description === 'string' ? schema.description : undefined;
  const costValues: CostValues = { values, description };
  return {
    ...schema,
    description: description === undefined ? note : `${description}; ${note}`,
    [COST_VALUES]: costValues,
  };
}

const isCostOnly = (node: unknown): boolean =>
  typeof node === 'object' && node !== null && (node as { [COST]?: unknown })[COST] === true;

/** Keywords whose values are data, not schemas: never walked. */
const DATA_KEYWORDS = new Set(['default', 'enum', 'const', 'example', 'examples']);

/**
 * The cloud variant of a schema, or of anything that holds schemas (a route's schema, its
 * responses): every property marked as cost left out (and out of `required`), every cost value
 * left out of its enum. A cost-only schema anywhere but as a property is a mistake in the
 * schemas, and throws: what would stand in its place is not for this function to guess.
 */
export function withoutCost<T>(node: T): T {
  return strip(node, '#') as T;
}

function strip(node: unknown, at: string): unknown {
  if (Array.isArray(node)) return node.map((item, i) => strip(item, `${at}/${i}`));
  if (typeof node !== 'object' || node === null) return node;
  if (isCostOnly(node)) throw new Error(`${at}: a cost-only schema may only be an object's property`);
  const source = node as Record<string | symbol, unknown>;
  const result: Record<string | symbol, unknown> = {};
  let kept: Set<string> | undefined;
  for (const key of Reflect.ownKeys(source)) {
    const value = source[key];
    if (key === COST_VALUES) continue;
    if (key === 'properties' && typeof value === 'object' && value !== null && !Array.isArray(value)) {
      const properties = Object.entries(value).filter(([, property]) => !isCostOnly(property));
      kept = new Set(properties.map(([name]) => name));
      result[key] = Object.fromEntries(
        properties.map(([name, property]) => [name, strip(property, `${at}/properties/${name}`)]),
      );
    } else {
      result[key] = typeof key === 'symbol' || DATA_KEYWORDS.has(key) ? value : strip(value, `${at}/${key}`);
    }
  }
  const keptNames = kept;
  if (keptNames && Array.isArray(result.required)) {
    const required = result.required.filter((name) => keptNames.has(name as string));
    // OpenAPI 3.0 wants a `required` list to name at least one property
    if (required.length > 0) result.required = required;
    else delete result.required;
  }
  const costValues = source[COST_VALUES] as CostValues | undefined;
  if (costValues && Array.isArray(source.enum)) {
    result.enum = source.enum.filter((value) => !costValues.values.includes(value));
    if (costValues.description === undefined) delete result.description;
    else result.description = costValues.description;
  }
  return result;
}

/** The shared schemas as cloud mode registers them: the cost-only ones left out, the others without cost. */
export function withoutCostSchemas(schemas: readonly TSchema[]): TSchema[] {
  return schemas.filter((schema) => !isCostOnly(schema)).map(withoutCost);
}

/**
 * Cloud mode: every route answers, and reads its query string, path and headers, through its
 * schemas without cost, so a serializer leaves a cost value out whatever a handler returns,
 * and a query naming a cost value is refused. A body is read as written, so that a cost field
 * sent anyway reaches the use case that refuses it by name; the document leaves it out of the
 * body as well (openapi.ts). Call before the routes are registered.
 */
export function hideCostInRoutes(app: FastifyInstance): void {
  app.addHook('onRoute', (route) => {
    if (!route.schema) return;
    const { body, ...rest } = route.schema;
    route.schema = { ...withoutCost(rest), ...(body === undefined ? {} : { body }) } as FastifySchema;
  });
}
