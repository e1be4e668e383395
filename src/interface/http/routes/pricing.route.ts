import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import {
  repricingTotals,
  type ModelRepricing,
  type RepricingRun,
  type RepricingTotals,
  type SkippedHours,
} from '../../../application/ports/repricing.port';
import { GetPricingCoverage } from '../../../application/use-cases/get-pricing-coverage';
import { RepriceUsage } from '../../../application/use-cases/reprice-usage';
import { Decimal } from '../../../domain/decimal';
import { userOf } from '../auth';
import { BEARER, errorResponses } from '../schemas/common';
import {
  RepricingListQuery,
  RepricingParams,
  RepricingRequest,
  RepricingResult,
  RepricingRun as RepricingRunSchema,
  RepricingRunList,
  UnpricedModelsResponse,
  UnpricedQuery,
} from './pricing.schemas';
import { access, costVisible, type RouteContext } from './route-context';

const TAGS = ['pricing'];

const modelJson = (m: ModelRepricing) => ({
  provider: m.provider,
  model: m.model,
  records: m.records,
  tokens: m.tokens,
  costBefore: m.costBefore.toString(),
  costAfter: m.costAfter.toString(),
  difference: m.costAfter.plus(m.costBefore.times(Decimal.parse('-1'))).toString(),
  repriced: m.repriced,
  newlyPriced: m.newlyPriced,
  newlyUnpriced: m.newlyUnpriced,
});

const totalsJson = (t: RepricingTotals) => ({
  records: t.records,
  repriced: t.repriced,
  costBefore: t.costBefore.toString(),
  costAfter: t.costAfter.toString(),
  difference: t.costAfter.plus(t.costBefore.times(Decimal.parse('-1'))).toString(),
  unpricedBefore: t.unpricedBefore,
  unpricedAfter: t.unpricedAfter,
});

const skippedJson = (s: SkippedHours) => ({ from: s.from.toISOString(), to: s.to.toISOString(), reason: s.reason });

/**
 * Pricing truth: what is unpriced, and re-pricing history. Cost exists only where the
 * deployment shows it, so in cloud mode these routes are not there at all (404, absent from
 * the document).
 */
export const pricingRoutes: FastifyPluginAsyncTypebox<RouteContext> = async (app, context) => {
  if (!costVisible(context)) return;
  const coverage = context.container.resolve(GetPricingCoverage);
  const repricing = context.container.resolve(RepriceUsage);
  const admin = { onRequest: access(context, { role: 'admin' }) };

  const runJson = (run: RepricingRun) => ({
    id: run.id,
    createdAt: run.createdAt.toISOString(),
    createdBy: run.createdBy,
    from: run.from.toISOString(),
    to: run.to.toISOString(),
    provider: run.provider ?? null,
    model: run.model ?? null,
    ...totalsJson(repricingTotals(run.models, Decimal.parse('0'))),
    models: run.models.map(modelJson),
    skippedHours: run.skippedHours.map(skippedJson),
  });

  app.get(
    '/v1/admin/models/unpriced',
    {
      ...admin,
      schema: {
        operationId: 'listUnpricedModels',
        tags: TAGS,
        summary:
          'The models with unpriced records in a range, newest first, and the share of requests and tokens priced',
        security: BEARER,
        querystring: UnpricedQuery,
        response: { 200: UnpricedModelsResponse, ...errorResponses(400, 401, 403, 429) },
      },
    },
    async (request) => {
      const report = await coverage.execute(userOf(request).workspaceId, request.query);
      return {
        from: report.scope.window.from.toISOString(),
        to: report.scope.window.to.toISOString(),
        coverage: report.coverage,
        models: report.models.map((m) => ({
          provider: m.provider,
          model: m.model,
          requests: m.requests,
          tokens: m.tokens,
          firstSeenHour: m.firstSeenHour.toISOString(),
          lastSeenHour: m.lastSeenHour.toISOString(),
        })),
      };
    },
  );

  app.post(
    '/v1/admin/repricing',
    {
      ...admin,
      schema: {
        operationId: 'repriceUsage',
        tags: TAGS,
        summary:
          'Price the records of a range again at the price in force at their time (dryRun: only say what would change)',
        security: BEARER,
        body: Type.Ref(RepricingRequest),
        response: {
          200: Type.Ref(RepricingResult),
          201: Type.Ref(RepricingResult),
          ...errorResponses(400, 401, 403, 429),
        },
      },
    },
    async (request, reply) => {
      const user = userOf(request);
      const report = await repricing.execute(user.workspaceId, user.userId, request.body);
      return reply.status(report.dryRun ? 200 : 201).send({
        dryRun: report.dryRun,
        id: report.id,
        from: report.range.from.toISOString(),
        to: report.range.to.toISOString(),
        provider: report.range.provider ?? null,
        model: report.range.model ?? null,
        ...totalsJson(report.totals),
        models: report.models.map(modelJson),
        skippedHours: report.skippedHours.map(skippedJson),
      });
    },
  );

  app.get(
    '/v1/admin/repricing',
    {
      ...admin,
      schema: {
        operationId: 'listRepricings',
        tags: TAGS,
        summary: 'The applied re-pricings (the audit), newest first',
        security: BEARER,
        querystring: RepricingListQuery,
        response: { 200: RepricingRunList, ...errorResponses(400, 401, 403, 429) },
      },
    },
    async (request) => {
      const { page, pageSize } = request.query;
      const result = await repricing.runs(userOf(request).workspaceId, pageSize, (page - 1) * pageSize);
      return { items: result.items.map(runJson), page, pageSize, total: result.total };
    },
  );

  app.get(
    '/v1/admin/repricing/:id',
    {
      ...admin,
      schema: {
        operationId: 'getRepricing',
        tags: TAGS,
        summary: 'One applied re-pricing as audited: who, when, range, filters, totals before and after',
        security: BEARER,
        params: RepricingParams,
        response: { 200: Type.Ref(RepricingRunSchema), ...errorResponses(400, 401, 403, 404, 429) },
      },
    },
    async (request) => runJson(await repricing.run(userOf(request).workspaceId, request.params.id)),
  );
};
