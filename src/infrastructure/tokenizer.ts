import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

/**
 * Tokens of a text by the o200k_base encoding (GPT-4o and later), bundled with the package:
 * nothing is downloaded. For other models' tokenizers it is an estimate, which is all it is
 * used for: a reservation's size, and the tokens of a stream cut short before the provider
 * reported its usage.
 *
 * Counted in a worker thread of its own. Loading the encoding takes ~1.2 s of CPU and ~160 MB:
 * on the event loop, the first call that needed it stalled every request of the service for
 * that long. The worker loads it at its first use and keeps it; a service that never counts
 * never loads it.
 */
export function countTokens(text: string): Promise<number> {
  if (text.length === 0) return Promise.resolve(0);
  return (counter ??= new TokenCounter()).count(text);
}

/** The worker: loads the encoding once, then answers each `{ id, text }` with its token count. */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { Tiktoken } = require(workerData.encoder);
const ranks = require(workerData.ranks);
const encoding = new Tiktoken(ranks.default ?? ranks);
parentPort.on('message', ({ id, text }) => {
  try {
    parentPort.postMessage({ id, tokens: encoding.encode(text).length });
  } catch (error) {
    parentPort.postMessage({ id, error: String(error) });
  }
});`;

const resolveModule = createRequire(import.meta.url).resolve;

interface Waiting {
  resolve: (tokens: number) => void;
  reject: (error: Error) => void;
}

class TokenCounter {
  private worker: Worker | undefined;
  private readonly waiting = new Map<number, Waiting>();
  private nextId = 0;

  count(text: string): Promise<number> {
    const worker = (this.worker ??= this.start());
    const id = (this.nextId += 1);
    return new Promise<number>((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      worker.postMessage({ id, text });
    });
  }

  private start(): Worker {
    const worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: { encoder: resolveModule('js-tiktoken/lite'), ranks: resolveModule('js-tiktoken/ranks/o200k_base') },
    });
    // never what keeps the process running
    worker.unref();
    worker.on('message', ({ id, tokens, error }: { id: number; tokens?: number; error?: string }) => {
      const waiting = this.waiting.get(id);
      this.waiting.delete(id);
      if (tokens !== undefined) waiting?.resolve(tokens);
      else waiting?.reject(new Error(`counting tokens failed: ${error}`));
    });
    // a worker that failed is replaced at the next count; the counts it owed fail
    const fail = (error: Error): void => {
      if (this.worker === worker) this.worker = undefined;
      for (const waiting of this.waiting.values()) waiting.reject(error);
      this.waiting.clear();
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`the tokenizer worker exited with code ${code}`)));
    return worker;
  }
}

let counter: TokenCounter | undefined;
