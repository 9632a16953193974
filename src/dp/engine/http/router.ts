// envoy.filters.http.router: the terminal HTTP filter that forwards to the route's cluster.
import { checkFields } from '../proto-values.js';
import { httpFilters } from '../registry.js';
import { forward, localReply } from './forward.js';

const ROUTER = 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router';

httpFilters.register(ROUTER, (config, path, ctx) => {
  checkFields(config, path, []);
  return {
    terminal: true,
    onRequest(ex) {
      const action = ex.route.action;
      if (action.kind === 'direct') localReply(ex, action.status, action.body);
      else forward(ex, action, ctx.live);
      return false;
    },
  };
});
