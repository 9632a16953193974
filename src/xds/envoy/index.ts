// Typed builders for the Envoy v3 resources the control plane generates.
export * from './types.js';
export * from './common.js';
export * from './listener.js';
export * from './tcp-proxy.js';
export * from './http-connection-manager.js';
export * from './route.js';
export * from './cluster.js';
export * from './endpoint.js';
export * from './resources.js';
export * from './rbac.js';
export * from './tls.js';
export * from './traffic-filters.js';
export * from './access-log.js';
