import { Type } from '@sinclair/typebox';

export const OTLP_JSON = 'application/json';
export const OTLP_PROTOBUF = 'application/x-protobuf';

const AnyValue = Type.Object(
  {
    stringValue: Type.Optional(Type.String()),
    intValue: Type.Optional(
      Type.Union([Type.String({ pattern: '^-?\\d+$' }), Type.Integer()], {
        description: 'int64: decimal text (the OTLP spec) or a number (the JavaScript exporter)',
      }),
    ),
    doubleValue: Type.Optional(Type.Number()),
    boolValue: Type.Optional(Type.Boolean()),
  },
  { description: 'scalar values are read; array, kvlist and bytes values are accepted and ignored' },
);
const Attributes = Type.Array(Type.Object({ key: Type.String(), value: AnyValue }));

/**
 * OTLP's ExportTraceServiceRequest as JSON, described loosely: only what intake reads is listed,
 * any other field of the OTLP specification is accepted and ignored.
 */
export const TraceExportRequest = Type.Object(
  {
    resourceSpans: Type.Optional(
      Type.Array(
        Type.Object({
          resource: Type.Optional(
            Type.Object(
              { attributes: Type.Optional(Attributes) },
              { description: 'user.id / enduser.id are read here too' },
            ),
          ),
          scopeSpans: Type.Optional(
            Type.Array(
              Type.Object({
                spans: Type.Optional(
                  Type.Array(
                    Type.Object({
                      traceId: Type.Optional(
                        Type.String({ description: '32 hex digits', examples: ['5b8efff798038103d269b633813fc60c'] }),
                      ),
                      spanId: Type.Optional(
                        Type.String({ description: '16 hex digits', examples: ['eee19b7ec3c1b174'] }),
                      ),
                      name: Type.Optional(Type.String({ examples: ['chat gpt-4o'] })),
                      startTimeUnixNano: Type.Optional(
                        Type.Union([Type.String({ pattern: '^\\d+$' }), Type.Integer()]),
                      ),
                      endTimeUnixNano: Type.Optional(Type.Union([Type.String({ pattern: '^\\d+$' }), Type.Integer()])),
                      attributes: Type.Optional(Attributes),
                      status: Type.Optional(
                        Type.Object({
                          code: Type.Optional(
                            Type.Integer({ description: '0 unset, 1 ok, 2 error (the call failed)' }),
                          ),
                          message: Type.Optional(Type.String()),
                        }),
                      ),
                    }),
                  ),
                ),
              }),
            ),
          ),
        }),
      ),
    ),
  },
  { $id: 'TraceExportRequest', title: 'TraceExportRequest' },
);

export const TraceExportResponse = Type.Object(
  {
    partialSuccess: Type.Optional(
      Type.Object({
        rejectedSpans: Type.Integer({ description: 'spans with GenAI usage that were refused; not worth retrying' }),
        errorMessage: Type.String({ description: 'why, for the first refused spans (attribute names included)' }),
      }),
    ),
  },
  {
    $id: 'TraceExportResponse',
    title: 'TraceExportResponse',
    description: 'empty on full success; spans without GenAI usage and duplicates count as accepted',
  },
);

/** The same message as bytes, for protobuf requests and answers. */
export const ProtobufMessage = (description: string) => Type.String({ format: 'binary', description });

export const TRACE_SCHEMAS = [TraceExportRequest, TraceExportResponse];
