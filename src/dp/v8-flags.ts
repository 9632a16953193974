// V8 settings of the data plane process. main.ts imports this module first, so they are in force
// before the proxy allocates anything.
import v8 from 'node:v8';

// Allocation-site pretenuring misfires on the proxy's HTTP path: when traffic starts, V8 sees the
// first requests' objects survive a scavenge and from then on allocates objects of those sites
// straight in the old generation. There they keep the young objects they point to alive through
// scavenges, so every request's garbage gets promoted: 4-8 ms scavenges every few hundred requests
// plus frequent mark-compacts, which showed as a multi-millisecond p99 in the dp benchmark. Without
// pretenuring, scavenges take well under 1 ms and throughput is higher too (Node 20 / V8 11.3).
v8.setFlagsFromString('--no-allocation-site-pretenuring');
