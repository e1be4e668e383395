/** One server-sent event: its text as it came (blank line included), its `event` name and its `data`. */
export interface SseEvent {
  raw: string;
  event?: string;
  data: string;
}

/** A blank line ends an event; lines end in CRLF, LF or CR (the SSE grammar). */
const EVENT_END = /(?:\r\n|\r(?!\n)|\n)(?:\r\n|\r|\n)/g;
const LINE_END = /\r\n|\r|\n/;

/** Cuts a stream's text into whole events as it arrives; a part of an event waits for the rest. */
export class SseSplitter {
  private pending = '';

  push(text: string): SseEvent[] {
    this.pending += text;
    const events: SseEvent[] = [];
    let start = 0;
    EVENT_END.lastIndex = 0;
    for (let match = EVENT_END.exec(this.pending); match; match = EVENT_END.exec(this.pending)) {
      // a CR at the very end may be the first half of a CRLF still on its way
      if (match.index + match[0].length === this.pending.length && this.pending.endsWith('\r')) break;
      const end = match.index + match[0].length;
      events.push(parseEvent(this.pending.slice(start, end)));
      start = end;
    }
    this.pending = this.pending.slice(start);
    return events;
  }

  /** At the end of the stream: the last event, if a lone CR held it back. */
  finish(): SseEvent[] {
    if (!/(?:\r\n|\r|\n)(?:\r\n|\r|\n)$/.test(this.pending)) return [];
    const last = parseEvent(this.pending);
    this.pending = '';
    return [last];
  }

  /** What arrived after the last whole event. */
  rest(): string {
    return this.pending;
  }
}

function parseEvent(raw: string): SseEvent {
  let event: string | undefined;
  const data: string[] = [];
  for (const line of raw.split(LINE_END)) {
    if (line === '' || line.startsWith(':')) continue;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'data') data.push(value);
    else if (field === 'event') event = value;
  }
  return { raw, event, data: data.join('\n') };
}
