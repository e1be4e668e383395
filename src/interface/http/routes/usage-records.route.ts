import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { IngestUsage } from '../../../application/use-cases/ingest-usage';
import { principalOf } from '../auth';
import { BEARER_OR_API_KEY, errorResponses } from '../schemas/common';
import { checkRecord } from './usage-record-check';
import { IngestBody, IngestEnvelope, IngestResponse } from './usage-records.schemas';
import { access, type RouteContext } from './route-context';

/** Room for every record at its largest metadata, plus the rest of its fields. */
const BYTES_PER_RECORD = 12 * 1024;

export const usageRecordRoutes: FastifyPluginAsyncTypebox<RouteContext> = async (app, context) => {
  const ingest = context.container.resolve(IngestUsage);
  const envelope = TypeCompiler.Compile(IngestEnvelope(context.maxBatchRecords));

  app.post(
    '/v1/usage/records',
    {
      onRequest: access(context, { apiKey: true }),
      bodyLimit: context.maxBatchRecords * BYTES_PER_RECORD,
      // a record with NUL or a lone surrogate is refused alone by checkRecord; the rest are stored
      config: { acceptsAnyBodyText: true },
      // The documented schema lists full records; at run time only the envelope is checked
      // here, so that one bad record is reported on its own instead of failing the batch.
      validatorCompiler: ({ httpPart }) =>
        httpPart === 'body'
          ? (body: unknown) =>
              envelope.Check(body)
                ? { value: body }
                : {
                    error: Object.assign(new Error(envelopeMessage(body, context.maxBatchRecords)), {
                      validation: [...envelope.Errors(body)].slice(0, 1).map((e) => ({
                        instancePath: e.path,
                        message: e.message,
                        params: {},
                        keyword: 'envelope',
                        schemaPath: '',
                      })),
                      validationContext: 'body',
                      statusCode: 400,
                    }),
                  }
          : () => true,
      schema: {
        operationId: 'ingestUsageRecords',
        tags: ['usage'],
        summary:
          'Record LLM calls: idempotent on requestId, priced at ingest, valid records kept even if others are rejected',
        security: BEARER_OR_API_KEY,
        body: IngestBody(context.maxBatchRecords),
        response: { 200: IngestResponse, ...errorResponses(400, 401, 413, 429) },
      },
    },
    async (request) => {
      const items = (request.body as { records: unknown[] }).records.map(checkRecord);
      // the parsed body is not needed any more: let it go before the database round trip
      (request as { body: unknown }).body = undefined;
      return ingest.execute(principalOf(request), items);
    },
  );
};

function envelopeMessage(body: unknown, max: number): string {
  const records = (body as { records?: unknown } | null)?.records;
  if (Array.isArray(records) && records.length > max)
    return `a batch holds at most ${max} records, got ${records.length}`;
  if (Array.isArray(records) && records.length === 0) return 'records must hold at least one record';
  return 'body must be { "records": [ … ] }';
}
