import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { IngestUsage } from '../../../application/use-cases/ingest-usage';
import { principalOf } from '../auth';
import { spansFromJson } from '../otlp/otlp-json';
import { encodeExportResponse, encodeRpcStatus, spansFromProtobuf } from '../otlp/otlp-protobuf';
import { refusalMessage, refusalsAfterIngest, spanBatch } from '../otlp/span-batch';
import { BEARER_OR_API_KEY, ErrorResponse } from '../schemas/common';
import { access, type RouteContext } from './route-context';
import { OTLP_JSON, OTLP_PROTOBUF, ProtobufMessage, TraceExportRequest, TraceExportResponse } from './traces.schemas';

/** The OpenTelemetry Collector's default request limit; an exporter's batch of 512 spans fits many times. */
export const OTLP_MAX_BODY_BYTES = 20 * 1024 * 1024;

const PROTOBUF_TYPES = [OTLP_PROTOBUF, 'application/protobuf'];

function isProtobuf(request: FastifyRequest): boolean {
  const type = (request.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  return PROTOBUF_TYPES.includes(type);
}

const errorAs = (description: string) => ({
  description,
  content: {
    [OTLP_JSON]: { schema: Type.Ref(ErrorResponse) },
    [OTLP_PROTOBUF]: { schema: ProtobufMessage('a google.rpc.Status with the message') },
  },
});

/**
 * OTLP/HTTP trace intake: every span that carries GenAI usage becomes a usage record, stored by
 * the same ingest as `POST /v1/usage/records`. Answers follow OTLP/HTTP: in the request's own
 * content type, 200 with `partialSuccess` for refused spans, errors as a google.rpc.Status for
 * protobuf requests (with Retry-After on 429 and 503, which exporters retry).
 */
export const traceRoutes: FastifyPluginAsyncTypebox<RouteContext> = async (app, context) => {
  const ingest = context.container.resolve(IngestUsage);
  // this plugin's own parsers: protobuf bodies as bytes, and no text/plain (415, as for any other type)
  app.removeContentTypeParser('text/plain');
  app.addContentTypeParser(PROTOBUF_TYPES, { parseAs: 'buffer' }, (_request, body, done) => done(null, body));

  app.post(
    '/v1/traces',
    {
      onRequest: access(context, { apiKey: true }),
      bodyLimit: OTLP_MAX_BODY_BYTES,
      // spans are read one by one, and one with text no column holds is refused alone
      config: { acceptsAnyBodyText: true },
      // decoded below, from JSON or protobuf alike; the schema documents the JSON form
      validatorCompiler: () => () => true,
      onSend: answerProtobufErrors,
      schema: {
        operationId: 'exportTraces',
        tags: ['usage'],
        summary: 'OTLP/HTTP trace intake (JSON or protobuf, gzip or not): spans with GenAI usage become usage records',
        description:
          'Point an OpenTelemetry exporter here (`OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`, the API key in `OTEL_EXPORTER_OTLP_HEADERS=x-api-key=…`, or as `Authorization: Bearer tt_…`). Each span with `gen_ai.usage.*` tokens is recorded: request id from `gen_ai.response.id` (else trace and span id, so a re-exported span is a duplicate), provider from `gen_ai.provider.name` or `gen_ai.system`, model from the response model (else the request model), user from `user.id` / `enduser.id` on the span or its resource. Other spans are ignored. The answer has the request’s content type.',
        security: BEARER_OR_API_KEY,
        body: {
          content: {
            [OTLP_JSON]: { schema: Type.Ref(TraceExportRequest) },
            [OTLP_PROTOBUF]: { schema: ProtobufMessage('an ExportTraceServiceRequest') },
          },
        },
        response: {
          200: {
            description: 'Stored; `partialSuccess` counts and explains the refused spans',
            content: {
              [OTLP_JSON]: { schema: Type.Ref(TraceExportResponse) },
              [OTLP_PROTOBUF]: { schema: ProtobufMessage('an ExportTraceServiceResponse') },
            },
          },
          401: errorAs('Missing, invalid or revoked API key (or token)'),
          400: errorAs('The body is not an OTLP ExportTraceServiceRequest (not retried by exporters)'),
          413: errorAs(`The body is over ${OTLP_MAX_BODY_BYTES} bytes, decompressed`),
          415: errorAs('Neither application/json nor application/x-protobuf, or an unknown Content-Encoding'),
          429: errorAs('Too many requests from this API key; exporters retry after `Retry-After`'),
          503: errorAs('The database is unavailable; exporters retry after `Retry-After`'),
        },
      },
    },
    async (request, reply) => {
      const protobuf = isProtobuf(request);
      const spans = protobuf ? spansFromProtobuf(request.body as Buffer) : spansFromJson(request.body);
      // the parsed body is not needed any more: let it go before the database round trip
      (request as { body: unknown }).body = undefined;
      const batch = spanBatch(spans);
      const result =
        batch.items.length > 0
          ? await ingest.execute(principalOf(request), batch.items)
          : { accepted: 0, duplicates: 0, rejected: [] };
      const refusals = refusalsAfterIngest(batch, result);
      request.log.debug(
        { spans: spans.length, ignored: batch.ignored, accepted: result.accepted, duplicates: result.duplicates },
        'OTLP traces',
      );
      const partialSuccess =
        refusals.length > 0 ? { rejectedSpans: refusals.length, errorMessage: refusalMessage(refusals) } : undefined;
      // bytes go out as they are (fastify serializes only the JSON answer); the typed reply knows only that one
      if (protobuf) return reply.type(OTLP_PROTOBUF).send(encodeExportResponse(partialSuccess) as never);
      return reply.type(OTLP_JSON).send(partialSuccess ? { partialSuccess } : {});
    },
  );
};

/** A protobuf request's error answer is a google.rpc.Status in protobuf (OTLP/HTTP), made from the one error shape. */
async function answerProtobufErrors(request: FastifyRequest, reply: FastifyReply, payload: unknown): Promise<unknown> {
  if (reply.statusCode < 400 || !isProtobuf(request) || typeof payload !== 'string') return payload;
  let message = payload;
  try {
    message = String((JSON.parse(payload) as { message?: unknown }).message ?? payload);
  } catch {
    // not our error shape: its text is the message
  }
  reply.type(OTLP_PROTOBUF);
  return encodeRpcStatus(reply.statusCode, message);
}
