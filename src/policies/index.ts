// Every policy kind Skein ships. Importing this module registers their resource descriptors;
// adding a policy is a new folder plus one line here.
import { registerDescriptor, descriptorByName } from '../api/descriptor.js';
import '../api/index.js';
import { meshTrafficPermissionDescriptor } from './meshtrafficpermission/api.js';

for (const d of [meshTrafficPermissionDescriptor]) {
  if (!descriptorByName(d.name)) registerDescriptor(d);
}

export { allowAllPolicy } from './meshtrafficpermission/api.js';
export { egressPermissions, inboundPermissions, type InboundPermissions } from './meshtrafficpermission/plugin.js';
