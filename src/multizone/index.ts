// Multi-zone sync (KDS-like): global ↔ zone over gRPC.
export { startKdsServer, authenticateZone, type KdsServer, type ZoneAuthenticator, type ZoneIdentity } from './global-server.js';
export { startKdsClient, parseGlobalAddress, type KdsZoneClient } from './zone-client.js';
export { hashSuffix, hashedName, globalToZoneTypes, zoneToGlobalTypes } from './naming.js';
