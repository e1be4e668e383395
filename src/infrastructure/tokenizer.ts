import { Tiktoken } from 'js-tiktoken/lite';
import o200kBase from 'js-tiktoken/ranks/o200k_base';

let encoder: Tiktoken | undefined;

/**
 * Tokens of a text by the o200k_base encoding (GPT-4o and later), bundled with the package:
 * nothing is downloaded. For other models' tokenizers it is an estimate, which is all it is
 * used for: a reservation's size, and the tokens of a stream cut short before the provider
 * reported its usage. The ranks are loaded at the first call (a few hundred ms, once).
 */
export function countTokens(text: string): number {
  if (text.length === 0) return 0;
  encoder ??= new Tiktoken(o200kBase);
  return encoder.encode(text).length;
}
