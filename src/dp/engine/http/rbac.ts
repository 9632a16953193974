// envoy.filters.http.rbac: answers 403 to requests RBAC policies do not allow — how
// MeshTrafficPermission is enforced for HTTP.
import type { Http2ServerRequest } from 'node:http2';
import { reject } from '../config-error.js';
import { checkFields, str } from '../proto-values.js';
import { compileRbac, RbacFilterRules, type RbacInput } from '../rbac-rules.js';
import type { Counter } from '../stats.js';
import { httpFilters, type HttpExchange } from '../registry.js';
import { localReply } from './forward.js';

const HTTP_RBAC = 'type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC';
const ACCESS_DENIED = 'RBAC: access denied';

httpFilters.register(HTTP_RBAC, (config, path, ctx) => {
  checkFields(config, path, ['rules', 'rules_stat_prefix', 'shadow_rules', 'shadow_rules_stat_prefix']);
  const statPrefix = ctx.httpStatPrefix;
  if (statPrefix === undefined) return reject(path, 'the RBAC HTTP filter must be in an http_connection_manager');
  const rulesPrefix = str(config.rules_stat_prefix);
  const shadowPrefix = str(config.shadow_rules_stat_prefix);
  const counter = (prefix: string, stat: string): Counter => ctx.stats.httpRbac(statPrefix, prefix, stat);
  const rules = new RbacFilterRules(
    config.rules === undefined ? undefined : {
      rules: compileRbac(config.rules, `${path}.rules`, 'http'),
      counters: { allowed: counter(rulesPrefix, 'allowed'), denied: counter(rulesPrefix, 'denied') },
    },
    config.shadow_rules === undefined ? undefined : {
      rules: compileRbac(config.shadow_rules, `${path}.shadow_rules`, 'http'),
      counters: { allowed: counter(shadowPrefix, 'shadow_allowed'), denied: counter(shadowPrefix, 'shadow_denied') },
    },
  );
  return {
    terminal: false,
    onRequest(ex) {
      if (rules.empty || rules.check(rbacInput(ex))) return true;
      localReply(ex, 403, ACCESS_DENIED);
      return false;
    },
  };
});

function rbacInput(ex: HttpExchange): RbacInput {
  const { req } = ex;
  const h2 = (req as Http2ServerRequest).stream !== undefined;
  const headers = req.headers;
  return {
    conn: ex.connection,
    request: {
      headers,
      method: req.method ?? '',
      path: req.url ?? '',
      authority: String((h2 ? headers[':authority'] : headers.host) ?? headers.host ?? ''),
      scheme: ex.secure ? 'https' : 'http',
    },
  };
}
