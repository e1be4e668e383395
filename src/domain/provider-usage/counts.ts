import { usageError, type ProviderUsageError } from './formats';

/** The largest count one field may hold, as for the token fields of a record. */
export const MAX_TOKEN_COUNT = 1_000_000_000_000;

export type JsonObject = Record<string, unknown>;

export function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Reads token counts out of one provider object, remembering the first field that is not
 * one. Providers leave fields out or send null for "none": both read as 0 unless the field is
 * required. Fields Tokentally does not know are ignored (providers add new ones often).
 */
export class CountReader {
  private failure: ProviderUsageError | undefined;

  constructor(private readonly root: JsonObject) {}

  get error(): ProviderUsageError | undefined {
    return this.failure;
  }

  fail(path: string, message: string): void {
    this.failure ??= usageError(path, message);
  }

  /** The count at `path` ("/a" or "/a/b"), 0 when absent or null unless `required`. */
  count(path: string, required = false): number {
    const value = this.at(path);
    if (value === undefined || value === null) {
      if (required) this.fail(path, `${path.slice(1)} is required${value === null ? ' (it is null)' : ''}`);
      return 0;
    }
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > MAX_TOKEN_COUNT) {
      this.fail(path, `${path.slice(1)} must be a whole number of tokens from 0 to ${MAX_TOKEN_COUNT}`);
      return 0;
    }
    return value;
  }

  /** Whether the field at `path` holds a value (not absent, not null). */
  has(path: string): boolean {
    const value = this.at(path);
    return value !== undefined && value !== null;
  }

  /**
   * The value at a pointer of plain keys and list indexes; a parent that is neither absent,
   * null nor an object (a list, for an index) is an error.
   */
  private at(path: string): unknown {
    const keys = path.split('/').slice(1);
    let value: unknown = this.root;
    for (let i = 0; i < keys.length; i += 1) {
      if (value === undefined || value === null) return undefined;
      if (Array.isArray(value) && /^(0|[1-9]\d*)$/.test(keys[i]!)) {
        value = value[Number(keys[i])];
        continue;
      }
      if (!isObject(value)) {
        this.fail(`/${keys.slice(0, i).join('/')}`, `${keys.slice(0, i).join('/')} must be an object`);
        return undefined;
      }
      value = Object.hasOwn(value, keys[i]!) ? value[keys[i]!] : undefined;
    }
    return value;
  }
}
