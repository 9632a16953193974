// The policies' entry point for the control plane: registers the kinds and exposes the plugins.
import './kinds.js';

export { allowAllPolicy } from './meshtrafficpermission/api.js';
export { egressPermissions, externalServiceAllowed, inboundPermissions, type InboundPermissions } from './meshtrafficpermission/plugin.js';
