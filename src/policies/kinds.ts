// Every policy kind Skein ships: importing this module registers their resource descriptors (API
// side only, so the CLI can know the kinds without loading xDS code). Adding a policy is a new
// folder plus one line here.
import { registerDescriptor, descriptorByName } from '../api/descriptor.js';
import '../api/index.js';
import { meshTrafficPermissionDescriptor } from './meshtrafficpermission/api.js';

for (const d of [meshTrafficPermissionDescriptor]) {
  if (!descriptorByName(d.name)) registerDescriptor(d);
}
