import { Type } from '@sinclair/typebox';
import { DecimalString, Nullable, StringEnum, WithDefault } from '../schemas/common';
import { CostField, CostOnly } from '../schemas/cost';

/** A price sent as a string: a plain decimal, at most 7 digits before and 12 after the point. */
export const PRICE_STRING_PATTERN = '^\\d{1,7}(\\.\\d{1,12})?$';

const PriceInputValue = (description: string, example: string) =>
  Type.Union(
    [Type.String({ pattern: PRICE_STRING_PATTERN, description }), Type.Number({ minimum: 0, maximum: 9_999_999 })],
    // examples on the union, not a branch: OpenAPI 3.0 knows only `example`, which the
    // document generator derives from a property's `examples`, not from inside anyOf
    {
      description: `${description}; a decimal string or a number, either read exactly as written`,
      examples: [example],
    },
  );

/** A price's six rates as sent: input and output required, the others fall back when absent. */
const priceInputRates = {
  inputPerMillion: PriceInputValue('USD per million uncached input tokens', '2.00'),
  outputPerMillion: PriceInputValue('USD per million output tokens', '8.00'),
  cachedInputPerMillion: Type.Optional(
    PriceInputValue('USD per million cache-read input tokens (default: input price)', '0.50'),
  ),
  cacheWritePerMillion: Type.Optional(
    PriceInputValue('USD per million cache-write input tokens (default: input price)', '2.50'),
  ),
  cacheWrite1hPerMillion: Type.Optional(
    PriceInputValue('USD per million tokens written to a one-hour cache (default: the cache-write price)', '4.00'),
  ),
  reasoningPerMillion: Type.Optional(
    PriceInputValue('USD per million reasoning tokens (default: output price)', '8.00'),
  ),
};

const AboveInputTokens = Type.Integer({
  minimum: 1,
  maximum: 2_000_000_000,
  description: 'a call with more input tokens than this (cache reads and writes included) is priced at these rates',
  examples: [200_000],
});

const LONG_CONTEXT_DESCRIPTION =
  'long-context pricing: every token of a call whose input is above aboveInputTokens at these rates instead; ' +
  'a rate left out falls back within the tier (cache reads to its input rate, …)';

// inline where it is used (a nullable $ref has no plain form in OpenAPI 3.0); titled for generators
const LongContextPriceInput = Type.Object(
  { aboveInputTokens: AboveInputTokens, ...priceInputRates },
  { title: 'LongContextPriceInput', description: LONG_CONTEXT_DESCRIPTION, additionalProperties: false },
);

/** A time of the UTC day, to the minute or the second. */
const UtcTime = (description: string, example: string) =>
  Type.String({ pattern: '^([01]\\d|2[0-3]):[0-5]\\d(:[0-5]\\d)?$', description, examples: [example] });

const TIME_OF_DAY_DESCRIPTION =
  'a daily window (UTC, end excluded; one that ends before it starts runs past midnight) in which a call is ' +
  'priced whole at these rates (no long-context tier); where two windows overlap the later one applies';

const TimeOfDayPriceInput = Type.Object(
  {
    start: UtcTime('UTC time the window opens, HH:MM or HH:MM:SS', '00:30'),
    end: UtcTime('UTC time the window closes (excluded); not its start', '16:30'),
    ...priceInputRates,
  },
  { title: 'TimeOfDayPriceInput', description: TIME_OF_DAY_DESCRIPTION, additionalProperties: false },
);

export const PriceInput = Type.Object(
  {
    effectiveFrom: Type.String({
      format: 'date-time',
      description: 'in force from this instant on',
      examples: ['2020-01-01T00:00:00Z'],
    }),
    ...priceInputRates,
    longContext: Type.Optional(LongContextPriceInput),
    timeOfDay: Type.Optional(Type.Array(TimeOfDayPriceInput, { maxItems: 24 })),
  },
  { $id: 'PriceInput', title: 'PriceInput', additionalProperties: false },
);

/** A price's six rates as answered: null where the rate falls back. */
const priceRates = {
  inputPerMillion: DecimalString('USD per million uncached input tokens', '2.5'),
  outputPerMillion: DecimalString('USD per million output tokens', '10'),
  cachedInputPerMillion: Nullable(DecimalString('USD per million cache-read tokens; null: the input price', '1.25')),
  cacheWritePerMillion: Nullable(DecimalString('USD per million cache-write tokens; null: the input price', '3.75')),
  cacheWrite1hPerMillion: Nullable(
    DecimalString('USD per million tokens written to a one-hour cache; null: the cache-write price', '6'),
  ),
  reasoningPerMillion: Nullable(DecimalString('USD per million reasoning tokens; null: the output price', '10')),
};

const LongContextPrice = Type.Object(
  { aboveInputTokens: AboveInputTokens, ...priceRates },
  { title: 'LongContextPrice', description: `${LONG_CONTEXT_DESCRIPTION}; null: every call at the rates above` },
);

const TimeOfDayPrice = Type.Object(
  {
    start: UtcTime('UTC time the window opens', '00:30:00'),
    end: UtcTime('UTC time the window closes (excluded)', '16:30:00'),
    ...priceRates,
  },
  { title: 'TimeOfDayPrice', description: TIME_OF_DAY_DESCRIPTION },
);

export const Price = CostOnly(
  Type.Object(
    {
      effectiveFrom: Type.String({ format: 'date-time' }),
      ...priceRates,
      longContext: Nullable(LongContextPrice),
      timeOfDay: Type.Array(TimeOfDayPrice, { description: 'empty: the same rates all day' }),
    },
    { $id: 'Price', title: 'Price' },
  ),
);

const ModelKind = (options: { default?: 'language' } = {}) => StringEnum(['language', 'embedding'], options);

export const Model = Type.Object(
  {
    id: Type.String({ format: 'uuid' }),
    provider: Type.String({ examples: ['openai'] }),
    model: Type.String({ examples: ['gpt-4o'] }),
    kind: ModelKind(),
    source: Type.String({
      description: '"workspace" for the workspace’s own entry, else the catalog it came from',
      examples: ['@pydantic/genai-prices@0.1.8'],
    }),
    prices: CostField(
      Type.Array(Type.Ref(Price), { description: 'price versions, oldest first; absent in cloud mode' }),
    ),
    history: CostField(
      Type.Object(
        {
          from: Type.String({ format: 'date-time', description: 'the raw window: RAW_RETENTION_DAYS before now' }),
          to: Type.String({ format: 'date-time' }),
          wouldPrice: Type.Integer({
            minimum: 0,
            description: 'unpriced records of the window this entry would price',
          }),
          wouldChange: Type.Integer({ minimum: 0, description: 'records whose cost would change, those included' }),
          repricing: Type.String({ description: 'how to apply it: recorded history never changes by itself' }),
        },
        {
          description:
            'in the answer to adding a model or price, self-hosted only: what re-pricing the raw window would change',
        },
      ),
    ),
  },
  { $id: 'Model', title: 'Model' },
);

export const ModelListQuery = Type.Object({
  provider: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
  search: Type.Optional(
    Type.String({ minLength: 1, maxLength: 200, description: 'case-insensitive substring of the model id' }),
  ),
  kind: Type.Optional(ModelKind()),
  page: WithDefault(Type.Integer({ minimum: 1, default: 1 })),
  pageSize: WithDefault(Type.Integer({ minimum: 1, maximum: 500, default: 100 })),
});

export const ModelList = Type.Object({
  items: Type.Array(Type.Ref(Model)),
  page: Type.Integer(),
  pageSize: Type.Integer(),
  total: Type.Integer(),
});

export const CreateModelBody = Type.Object(
  {
    provider: Type.String({ minLength: 1, maxLength: 100, pattern: '\\S', examples: ['acmeai'] }),
    model: Type.String({ minLength: 1, maxLength: 200, pattern: '\\S', examples: ['tally-1'] }),
    kind: WithDefault(ModelKind({ default: 'language' })),
    price: Type.Ref(PriceInput),
  },
  { additionalProperties: false },
);

export const AddPriceBody = Type.Object({ price: Type.Ref(PriceInput) }, { additionalProperties: false });

export const ModelParams = Type.Object({ id: Type.String({ format: 'uuid' }) });
