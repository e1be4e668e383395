import { Readable, pipeline } from 'node:stream';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { ExportUsage, type PreparedExport } from '../../../application/use-cases/export-usage';
import type { ExportFormat } from '../../../domain/usage-export';
import { userOf } from '../auth';
import { BEARER, errorResponses } from '../schemas/common';
import { access, costVisible, type RouteContext } from './route-context';
import { exportEncoder, MEDIA_TYPES } from './usage-export.format';
import { EXPORT_DESCRIPTION, UsageExportQuery, UsageExportResponse } from './usage-export.schemas';

/** 2026-11-01T00:00:00.000Z → 20261101T000000Z: no characters a file system refuses */
const compact = (at: Date): string =>
  at
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');

function filename(prepared: PreparedExport, format: ExportFormat): string {
  const { from, to } = prepared.scope.window;
  const level = prepared.level === 'record' ? 'records' : 'days';
  return `tokentally-usage-${level}-${compact(from)}-${compact(to)}.${format}`;
}

export const usageExportRoutes: FastifyPluginAsyncTypebox<RouteContext> = async (app, context) => {
  const exportUsage = context.container.resolve(ExportUsage);
  const showCost = costVisible(context);

  app.get(
    '/v1/admin/usage/export',
    {
      onRequest: access(context, { role: 'admin' }),
      schema: {
        operationId: 'exportUsage',
        tags: ['export'],
        summary: 'Export usage records or daily sums as CSV or NDJSON, streamed',
        description: EXPORT_DESCRIPTION,
        security: BEARER,
        querystring: UsageExportQuery,
        response: { 200: UsageExportResponse, ...errorResponses(400, 401, 403, 429) },
      },
    },
    async (request, reply) => {
      const { format, ...query } = request.query;
      const prepared = await exportUsage.prepare(userOf(request).workspaceId, query, showCost);
      // a client that leaves ends the query at once, also one still computing its first rows
      const leaving = new AbortController();
      reply.raw.on('close', () => {
        if (!reply.raw.writableFinished) leaving.abort();
      });
      const rows = Readable.from(prepared.batches(leaving.signal), { highWaterMark: 1 });
      // the pipeline destroys every stage when the response is closed early or a stage fails
      const body = pipeline(rows, exportEncoder(format, prepared.columns), () => undefined);
      return (
        reply
          .header('content-type', MEDIA_TYPES[format])
          .header('content-disposition', `attachment; filename="${filename(prepared, format)}"`)
          .header('cache-control', 'no-store')
          // the schema describes the text this stream yields
          .send(body as unknown as string)
      );
    },
  );
};
