// Every extension the engine ships. Each module registers itself in the registry when loaded.
import './listener/tls-inspector.js';
import './listener/http-inspector.js';
import './network/rbac.js';
import './network/local-ratelimit.js';
import './network/tcp-proxy.js';
import './network/http-connection-manager.js';
import './http/rbac.js';
import './http/filters/local-ratelimit.js';
import './http/filters/fault.js';
import './http/router.js';
import './transport/raw-buffer.js';
import './transport/downstream-tls.js';
import './transport/upstream-tls.js';
import './cluster/static.js';
import './cluster/eds.js';
import './cluster/original-dst.js';
