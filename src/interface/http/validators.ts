import { AjvCompiler } from '@fastify/ajv-compiler';
import { parseIsoDateTime as parseDateTime } from '../../domain/iso-date-time';

type ValidatorBuilder = ReturnType<typeof AjvCompiler>;
type Validate = ReturnType<ReturnType<ValidatorBuilder>>;
type AjvError = NonNullable<Validate['errors']>[number];

const SHARED = { removeAdditional: false, useDefaults: true } as const;

/** `date-time` as the routes read it: an instant with its offset that a Date can hold (date-time.ts). */
const onCreate = (ajv: {
  addFormat(name: string, format: { type: 'string'; validate: (v: string) => boolean }): unknown;
}) => ajv.addFormat('date-time', { type: 'string', validate: (value) => parseDateTime(value) !== null });

/** Ajv turns the text "Infinity" into a number that passes `integer` and `maximum`. */
function unsafeNumbers(data: unknown): AjvError[] {
  if (typeof data !== 'object' || data === null) return [];
  return Object.entries(data)
    .filter(
      ([, value]) =>
        typeof value === 'number' &&
        (!Number.isFinite(value) || (Number.isInteger(value) && !Number.isSafeInteger(value))),
    )
    .map(([name]) => ({
      instancePath: `/${name}`,
      schemaPath: '#/finite',
      keyword: 'finite',
      params: {},
      message: `must be a finite number between -${Number.MAX_SAFE_INTEGER} and ${Number.MAX_SAFE_INTEGER}`,
    }));
}

/** The text validator, and afterwards no parameter that came out as a number beyond exact range. */
function withFiniteNumbers(validate: Validate): Validate {
  const checked = ((data: unknown) => {
    if (!validate(data)) {
      checked.errors = validate.errors;
      return false;
    }
    const errors = unsafeNumbers(data);
    checked.errors = errors.length > 0 ? errors : null;
    return errors.length === 0;
  }) as Validate;
  return checked;
}

/**
 * Query strings, path parameters and headers arrive as text, so their validator turns "2" into
 * 2; a JSON body says what type it means, so its validator never coerces: "1e3" stays a string
 * and fails where a number is asked for, instead of being read as one.
 */
export function textCoercingValidators(): ValidatorBuilder {
  const coercing = AjvCompiler();
  const exact = AjvCompiler();
  // the server's own `ajv` options are not used: these two are the whole configuration
  return (externalSchemas) => {
    const forText = coercing(externalSchemas, { customOptions: { ...SHARED, coerceTypes: 'array' }, onCreate });
    const forBody = exact(externalSchemas, { customOptions: { ...SHARED, coerceTypes: false }, onCreate });
    return (route) => (route.httpPart === 'body' ? forBody(route) : withFiniteNumbers(forText(route) as Validate));
  };
}
