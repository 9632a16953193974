// envoy.filters.network.local_ratelimit: a token bucket of connections. A new connection finding
// the bucket empty is closed at once. Filters with the same share_key and bucket share one bucket.
import { reject } from '../config-error.js';
import { checkFields, str } from '../proto-values.js';
import { fingerprint } from '../fingerprint.js';
import { runtimeFeatureFlag } from '../percent.js';
import { networkFilters, type DownstreamConnection, type NetworkFilter } from '../registry.js';
import type { Counter } from '../stats.js';
import { compileTokenBucket, type TokenBucket } from '../token-bucket.js';

const NETWORK_LOCAL_RATE_LIMIT = 'type.googleapis.com/envoy.extensions.filters.network.local_ratelimit.v3.LocalRateLimit';

/** Buckets by share_key and bucket settings. */
const shared = new Map<string, WeakRef<TokenBucket>>();

networkFilters.register(NETWORK_LOCAL_RATE_LIMIT, (config, path, ctx) => {
  checkFields(config, path, ['stat_prefix', 'token_bucket', 'runtime_enabled', 'share_key']);
  const statPrefix = str(config.stat_prefix);
  if (!statPrefix) reject(`${path}.stat_prefix`, 'is required');
  if (!config.token_bucket) reject(`${path}.token_bucket`, 'is required');
  let bucket = compileTokenBucket(config.token_bucket, `${path}.token_bucket`);
  const shareKey = str(config.share_key);
  if (shareKey) {
    const key = `${shareKey}|${fingerprint(config.token_bucket)}`;
    const existing = shared.get(key)?.deref();
    if (existing) bucket = existing;
    else shared.set(key, new WeakRef(bucket));
  }
  return new NetworkLocalRateLimit(bucket, runtimeFeatureFlag(config.runtime_enabled, `${path}.runtime_enabled`), ctx.stats.networkLocalRateLimit(statPrefix, 'rate_limited'));
});

class NetworkLocalRateLimit implements NetworkFilter {
  readonly terminal = false;

  constructor(
    private readonly bucket: TokenBucket,
    private readonly enabled: boolean,
    private readonly rateLimited: Counter,
  ) {}

  onConnection(conn: DownstreamConnection): boolean {
    if (!this.enabled || this.bucket.consume()) return true;
    this.rateLimited.value++;
    conn.socket.destroy();
    return false;
  }

  drain(): void {
    // Nothing long-lived per connection.
  }
}
