// envoy.filters.network.rbac: allows or closes each new connection by RBAC policies on its
// principal (peer certificate, remote address) — how MeshTrafficPermission is enforced for TCP.
import { reject } from '../config-error.js';
import { checkFields, str } from '../proto-values.js';
import { compileRbac, RbacFilterRules } from '../rbac-rules.js';
import { networkFilters, type DownstreamConnection, type NetworkFilter } from '../registry.js';
import type { Counter } from '../stats.js';

const NETWORK_RBAC = 'type.googleapis.com/envoy.extensions.filters.network.rbac.v3.RBAC';

// Both enforcement types decide once per connection here: every matcher the engine supports looks
// at attributes fixed for the life of the connection, so CONTINUOUS re-evaluation changes nothing.
const ENFORCEMENT_TYPES = ['ONE_TIME_ON_FIRST_BYTE', 'CONTINUOUS'];

networkFilters.register(NETWORK_RBAC, (config, path, ctx) => {
  checkFields(config, path, ['stat_prefix', 'rules', 'shadow_rules', 'shadow_rules_stat_prefix', 'enforcement_type']);
  const statPrefix = str(config.stat_prefix);
  if (!statPrefix) reject(`${path}.stat_prefix`, 'is required');
  const enforcement = str(config.enforcement_type) || 'ONE_TIME_ON_FIRST_BYTE';
  if (!ENFORCEMENT_TYPES.includes(enforcement)) reject(`${path}.enforcement_type`, `${enforcement} is not supported`);
  const shadowPrefix = str(config.shadow_rules_stat_prefix);
  const counter = (stat: string): Counter => ctx.stats.rbac(statPrefix, stat);
  return new NetworkRbac(new RbacFilterRules(
    config.rules === undefined ? undefined : {
      rules: compileRbac(config.rules, `${path}.rules`, 'network'),
      counters: { allowed: counter('allowed'), denied: counter('denied') },
    },
    config.shadow_rules === undefined ? undefined : {
      rules: compileRbac(config.shadow_rules, `${path}.shadow_rules`, 'network'),
      counters: { allowed: counter(`${shadowPrefix}shadow_allowed`), denied: counter(`${shadowPrefix}shadow_denied`) },
    },
  ));
});

class NetworkRbac implements NetworkFilter {
  readonly terminal = false;

  constructor(private readonly rules: RbacFilterRules) {}

  onConnection(conn: DownstreamConnection): boolean | Promise<boolean> {
    if (this.rules.empty) return true;
    // Principals on the peer certificate are decided once the TLS handshake is done; the next
    // filters (tcp_proxy, http_connection_manager) only see the connection if it is allowed.
    if (this.rules.needsPeer && conn.secure) return conn.established().then((ok) => ok && this.decide(conn));
    return this.decide(conn);
  }

  private decide(conn: DownstreamConnection): boolean {
    if (this.rules.check({ conn })) return true;
    // Envoy closes the connection without flushing.
    conn.socket.destroy();
    return false;
  }

  drain(): void {
    // Nothing long-lived: the decision is made once per connection.
  }
}
