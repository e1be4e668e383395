import type { Readable } from 'node:stream';
import { createGunzip, createInflate } from 'node:zlib';
import type { FastifyReply, FastifyRequest } from 'fastify';

type Decoded = Readable & { receivedEncodedLength?: number };

const DECODERS: Record<string, () => NodeJS.ReadWriteStream> = {
  gzip: createGunzip,
  'x-gzip': createGunzip,
  deflate: createInflate,
};

function refusal(statusCode: number, code: string, message: string): Error {
  return Object.assign(new Error(message), { statusCode, code });
}

/**
 * Bodies are UTF-8, and may come compressed (exporters and batch senders gzip by default). The body limit
 * applies to the decompressed bytes, so a small bomb is refused like a large body; a body that
 * says gzip and is not, or an encoding we do not speak, is refused instead of read as plain.
 */
export async function decodeContentEncoding(
  request: FastifyRequest,
  _reply: FastifyReply,
  payload: Readable,
): Promise<Readable> {
  const charset = /;\s*charset\s*=\s*"?([^";\s]+)/i.exec(request.headers['content-type'] ?? '')?.[1]?.toLowerCase();
  if (charset !== undefined && charset !== 'utf-8' && charset !== 'utf8') {
    // JSON is UTF-8 (RFC 8259); reading other bytes as UTF-8 would store mangled text
    throw refusal(415, 'unsupported_media_type', `charset ${JSON.stringify(charset)} is not supported; send UTF-8`);
  }
  const header = request.headers['content-encoding'];
  const encoding = (typeof header === 'string' ? header : '').trim().toLowerCase();
  if (encoding === '' || encoding === 'identity') return payload;
  const decoder = DECODERS[encoding];
  if (!decoder) {
    throw refusal(
      415,
      'unsupported_content_encoding',
      `Content-Encoding ${JSON.stringify(encoding)} is not supported; send gzip, deflate or none`,
    );
  }
  const decoded = decoder() as unknown as Decoded;
  decoded.receivedEncodedLength = 0;
  payload.on('data', (chunk: Buffer) => {
    decoded.receivedEncodedLength! += chunk.length;
  });
  payload.on('error', (error) => decoded.emit('error', error));
  decoded.on('error', (error: Error & { statusCode?: number }) => {
    if (error.statusCode === undefined) {
      error.statusCode = 400;
      error.message = `body is not valid ${encoding}: ${error.message}`;
      (error as { code?: string }).code = 'invalid_content_encoding';
    }
  });
  return payload.pipe(decoded as unknown as NodeJS.WritableStream) as unknown as Readable;
}
