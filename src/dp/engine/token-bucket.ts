// type.v3.TokenBucket: starts full with max_tokens; every fill_interval adds tokens_per_fill (up to
// max_tokens). Filled lazily on use, so an idle bucket costs no timer.
import { reject } from './config-error.js';
import { checkFields, durationMs, num, obj } from './proto-values.js';

export class TokenBucket {
  private tokens: number;
  private lastFill = Date.now();

  constructor(
    readonly maxTokens: number,
    readonly tokensPerFill: number,
    readonly fillIntervalMs: number,
  ) {
    this.tokens = maxTokens;
  }

  /** Takes a token; false when the bucket is empty. */
  consume(): boolean {
    this.refill();
    if (this.tokens < 1) return false;
    this.tokens--;
    return true;
  }

  remaining(): number {
    this.refill();
    return this.tokens;
  }

  /** Milliseconds until the next fill. */
  msUntilFill(): number {
    return Math.max(0, this.lastFill + this.fillIntervalMs - Date.now());
  }

  private refill(): void {
    const now = Date.now();
    const fills = Math.floor((now - this.lastFill) / this.fillIntervalMs);
    if (fills <= 0) return;
    this.tokens = Math.min(this.maxTokens, this.tokens + fills * this.tokensPerFill);
    this.lastFill += fills * this.fillIntervalMs;
  }
}

/** Local rate limit filters require fill_interval ≥ 50 ms, as Envoy does. */
export function compileTokenBucket(value: unknown, path: string): TokenBucket {
  const tb = obj(value, path);
  checkFields(tb, path, ['max_tokens', 'tokens_per_fill', 'fill_interval']);
  const maxTokens = num(tb.max_tokens, 0);
  if (maxTokens <= 0) reject(`${path}.max_tokens`, 'must be greater than 0');
  const tokensPerFill = num(tb.tokens_per_fill, 1);
  if (tokensPerFill <= 0) reject(`${path}.tokens_per_fill`, 'must be greater than 0');
  if (tb.fill_interval === undefined) reject(`${path}.fill_interval`, 'is required');
  const fillIntervalMs = durationMs(tb.fill_interval, 0);
  if (fillIntervalMs < 50) reject(`${path}.fill_interval`, 'must be at least 50ms');
  return new TokenBucket(maxTokens, tokensPerFill, fillIntervalMs);
}
