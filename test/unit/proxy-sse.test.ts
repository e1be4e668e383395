import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SseSplitter } from '../../src/interface/http/proxy/sse';

const STREAM =
  'event: message_start\ndata: {"a":1}\n\n' +
  ': a comment\r\ndata: line one\r\ndata: line two\r\n\r\n' +
  'data: [DONE]\r\r';

describe('SseSplitter', () => {
  it('cuts whole events with LF, CRLF and CR line ends, names and multi-line data (a final CR-ended one at the end)', () => {
    const splitter = new SseSplitter();
    const events = [...splitter.push(STREAM), ...splitter.finish()];
    expect(events.map(({ event, data }) => ({ event, data }))).toEqual([
      { event: 'message_start', data: '{"a":1}' },
      { event: undefined, data: 'line one\nline two' },
      { event: undefined, data: '[DONE]' },
    ]);
    expect(events.map((e) => e.raw).join('')).toBe(STREAM);
  });

  it('gives the same events and bytes however the stream is cut into chunks', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: STREAM.length }), { maxLength: 8 }), (cuts) => {
        const points = [...new Set(cuts)].sort((a, b) => a - b);
        const splitter = new SseSplitter();
        const events = [];
        let from = 0;
        for (const point of [...points, STREAM.length]) {
          events.push(...splitter.push(STREAM.slice(from, point)));
          from = point;
        }
        events.push(...splitter.finish());
        expect(events.map((e) => e.data)).toEqual(['{"a":1}', 'line one\nline two', '[DONE]']);
        expect(events.map((e) => e.raw).join('') + splitter.rest()).toBe(STREAM);
      }),
    );
  });

  it('keeps a part of an event until the rest arrives', () => {
    const splitter = new SseSplitter();
    expect(splitter.push('data: {"partial":')).toEqual([]);
    expect(splitter.push('true}\n')).toEqual([]);
    expect(splitter.push('\n')).toEqual([
      { raw: 'data: {"partial":true}\n\n', event: undefined, data: '{"partial":true}' },
    ]);
  });
});
