// Every policy kind Skein ships: importing this module registers their resource descriptors and
// their engine info (API side only, so the CLI can know the kinds without loading xDS code).
// Adding a policy is a new folder plus one line here.
import { registerDescriptor, descriptorByName } from '../api/descriptor.js';
import '../api/index.js';
import { registerPolicyKind, type PolicyKindInfo } from '../policy-engine/kinds.js';
import type { ResourceDescriptor } from '../api/descriptor.js';
import { meshAccessLogDescriptor, meshAccessLogKind } from './meshaccesslog/api.js';
import { meshCircuitBreakerDescriptor, meshCircuitBreakerKind } from './meshcircuitbreaker/api.js';
import { meshFaultInjectionDescriptor, meshFaultInjectionKind } from './meshfaultinjection/api.js';
import { meshHealthCheckDescriptor, meshHealthCheckKind } from './meshhealthcheck/api.js';
import { meshMetricDescriptor, meshMetricKind } from './meshmetric/api.js';
import { meshOpenTelemetryBackendDescriptor } from './meshopentelemetrybackend/api.js';
import { meshProxyPatchDescriptor, meshProxyPatchKind } from './meshproxypatch/api.js';
import { meshRateLimitDescriptor, meshRateLimitKind } from './meshratelimit/api.js';
import { meshRetryDescriptor, meshRetryKind } from './meshretry/api.js';
import { meshTimeoutDescriptor, meshTimeoutKind } from './meshtimeout/api.js';
import { meshTraceDescriptor, meshTraceKind } from './meshtrace/api.js';
import { meshTrafficPermissionDescriptor, meshTrafficPermissionKind } from './meshtrafficpermission/api.js';

const POLICIES: [ResourceDescriptor, PolicyKindInfo][] = [
  [meshTrafficPermissionDescriptor, meshTrafficPermissionKind],
  [meshTimeoutDescriptor, meshTimeoutKind],
  [meshRateLimitDescriptor, meshRateLimitKind],
  [meshFaultInjectionDescriptor, meshFaultInjectionKind],
  [meshCircuitBreakerDescriptor, meshCircuitBreakerKind],
  [meshHealthCheckDescriptor, meshHealthCheckKind],
  [meshRetryDescriptor, meshRetryKind],
  [meshProxyPatchDescriptor, meshProxyPatchKind],
  [meshMetricDescriptor, meshMetricKind],
  [meshTraceDescriptor, meshTraceKind],
  [meshAccessLogDescriptor, meshAccessLogKind],
];

for (const [d, info] of POLICIES) {
  if (!descriptorByName(d.name)) registerDescriptor(d);
  registerPolicyKind(info);
}
if (!descriptorByName(meshOpenTelemetryBackendDescriptor.name)) registerDescriptor(meshOpenTelemetryBackendDescriptor);
