import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Static } from '@sinclair/typebox';
import type { CatalogModel } from '../../../application/ports/price-catalog.port';
import { ManageModels, type ModelChange } from '../../../application/use-cases/manage-models';
import { Decimal } from '../../../domain/decimal';
import { ValidationError } from '../../../domain/errors';
import type { PriceRates, PriceVersion, TimeOfDayPrice } from '../../../domain/model-price';
import { userOf } from '../auth';
import { BEARER, errorResponses } from '../schemas/common';
import {
  AddPriceBody,
  CreateModelBody,
  Model,
  ModelList,
  ModelListQuery,
  ModelParams,
  type PriceInput,
} from './models.schemas';
import { access, costVisible, type RouteContext } from './route-context';

const MAX_PRICE_SCALE = 12;

function toDecimal(value: string | number, path: string): Decimal {
  const decimal = typeof value === 'number' ? Decimal.fromNumber(value) : Decimal.parse(value);
  if ((decimal.toString().split('.')[1]?.length ?? 0) > MAX_PRICE_SCALE) {
    throw new ValidationError('price has too many decimal places', [
      { path, message: `at most ${MAX_PRICE_SCALE} decimal places` },
    ]);
  }
  return decimal;
}

type RateInput = Omit<Static<typeof PriceInput>, 'effectiveFrom' | 'longContext' | 'timeOfDay'>;

/** Seconds after UTC midnight of an HH:MM[:SS] the schema has checked. */
function secondsOf(time: string): number {
  const [hours = 0, minutes = 0, seconds = 0] = time.split(':').map(Number);
  return hours * 3600 + minutes * 60 + seconds;
}

/** The time of the UTC day `second` falls in, as HH:MM:SS. */
function timeOf(second: number): string {
  return [Math.floor(second / 3600), Math.floor(second / 60) % 60, second % 60]
    .map((n) => String(n).padStart(2, '0'))
    .join(':');
}

function toWindows(input: Static<typeof PriceInput>['timeOfDay'], path: string): TimeOfDayPrice[] {
  return (input ?? []).map((window, i) => {
    const [startSecond, endSecond] = [secondsOf(window.start), secondsOf(window.end)];
    if (startSecond === endSecond) {
      throw new ValidationError('a time-of-day window must not end where it starts', [
        { path: `${path}/timeOfDay/${i}/end`, message: 'must differ from start (a whole day is the price itself)' },
      ]);
    }
    return { startSecond, endSecond, ...toRates(window, `${path}/timeOfDay/${i}`) };
  });
}

function toRates(input: RateInput, path: string): PriceRates {
  const optional = (value: string | number | undefined, field: string) =>
    value === undefined ? null : toDecimal(value, `${path}/${field}`);
  return {
    inputPerMillion: toDecimal(input.inputPerMillion, `${path}/inputPerMillion`),
    outputPerMillion: toDecimal(input.outputPerMillion, `${path}/outputPerMillion`),
    cachedInputPerMillion: optional(input.cachedInputPerMillion, 'cachedInputPerMillion'),
    cacheWritePerMillion: optional(input.cacheWritePerMillion, 'cacheWritePerMillion'),
    cacheWrite1hPerMillion: optional(input.cacheWrite1hPerMillion, 'cacheWrite1hPerMillion'),
    reasoningPerMillion: optional(input.reasoningPerMillion, 'reasoningPerMillion'),
  };
}

function toPriceVersion(input: Static<typeof PriceInput>, path: string): PriceVersion {
  const long = input.longContext;
  return {
    effectiveFrom: new Date(input.effectiveFrom),
    ...toRates(input, path),
    longContext: long ? { aboveInputTokens: long.aboveInputTokens, ...toRates(long, `${path}/longContext`) } : null,
    timeOfDay: toWindows(input.timeOfDay, path),
  };
}

const ratesJson = (rates: PriceRates) => ({
  inputPerMillion: rates.inputPerMillion.toString(),
  outputPerMillion: rates.outputPerMillion.toString(),
  cachedInputPerMillion: rates.cachedInputPerMillion?.toString() ?? null,
  cacheWritePerMillion: rates.cacheWritePerMillion?.toString() ?? null,
  cacheWrite1hPerMillion: rates.cacheWrite1hPerMillion?.toString() ?? null,
  reasoningPerMillion: rates.reasoningPerMillion?.toString() ?? null,
});

function toModel(model: CatalogModel, withPrices: boolean): Static<typeof Model> {
  const base = { id: model.id, provider: model.provider, model: model.model, kind: model.kind, source: model.source };
  if (!withPrices) return base;
  return {
    ...base,
    prices: model.prices.map((price) => ({
      effectiveFrom: price.effectiveFrom.toISOString(),
      ...ratesJson(price),
      longContext: price.longContext
        ? { aboveInputTokens: price.longContext.aboveInputTokens, ...ratesJson(price.longContext) }
        : null,
      timeOfDay: price.timeOfDay.map((w) => ({
        start: timeOf(w.startSecond),
        end: timeOf(w.endSecond),
        ...ratesJson(w),
      })),
    })),
  };
}

/** The answer to adding a model or price: the model, and in self-hosted mode what re-pricing would change. */
function toChange(change: ModelChange, withPrices: boolean): Static<typeof Model> {
  const { history } = change;
  return {
    ...toModel(change.model, withPrices),
    ...(history && {
      history: {
        from: history.from.toISOString(),
        to: history.to.toISOString(),
        wouldPrice: history.wouldPrice,
        wouldChange: history.wouldChange,
        repricing: 'POST /v1/admin/repricing',
      },
    }),
  };
}

export const modelRoutes: FastifyPluginAsyncTypebox<RouteContext> = async (app, context) => {
  const models = context.container.resolve(ManageModels);
  const adminOnly = access(context, { role: 'admin' });
  const withPrices = costVisible(context);

  app.get(
    '/v1/admin/models',
    {
      onRequest: adminOnly,
      schema: {
        operationId: 'listModels',
        tags: ['models'],
        summary: 'The model catalog as this workspace sees it: built-in entries and its own overrides',
        security: BEARER,
        querystring: ModelListQuery,
        response: { 200: ModelList, ...errorResponses(400, 401, 403, 429) },
      },
    },
    async (request) => {
      const { page, pageSize, provider, search, kind } = request.query;
      const result = await models.list(userOf(request).workspaceId, {
        provider,
        search,
        kind,
        limit: pageSize,
        offset: (page - 1) * pageSize,
      });
      return { items: result.items.map((m) => toModel(m, withPrices)), page, pageSize, total: result.total };
    },
  );

  app.post(
    '/v1/admin/models',
    {
      onRequest: adminOnly,
      schema: {
        operationId: 'createModel',
        tags: ['models'],
        summary: 'Add a model with its first price version to this workspace (or override a built-in one)',
        security: BEARER,
        body: CreateModelBody,
        response: { 201: Model, ...errorResponses(400, 401, 403, 409, 429) },
      },
    },
    async (request, reply) => {
      const { provider, model, kind, price } = request.body;
      const created = await models.create(userOf(request).workspaceId, {
        provider: provider.trim(),
        model: model.trim(),
        kind,
        price: toPriceVersion(price, '/price'),
      });
      return reply.status(201).send(toChange(created, withPrices));
    },
  );

  app.post(
    '/v1/admin/models/:id/prices',
    {
      onRequest: adminOnly,
      schema: {
        operationId: 'addModelPrice',
        tags: ['models'],
        summary: 'Add a price version, in force from its effectiveFrom on, for this workspace only',
        security: BEARER,
        params: ModelParams,
        body: AddPriceBody,
        response: { 201: Model, ...errorResponses(400, 401, 403, 404, 409, 429) },
      },
    },
    async (request, reply) => {
      const updated = await models.addPrice(
        userOf(request).workspaceId,
        request.params.id,
        toPriceVersion(request.body.price, '/price'),
      );
      return reply.status(201).send(toChange(updated, withPrices));
    },
  );
};
