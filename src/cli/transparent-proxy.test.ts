import { describe, expect, it } from 'vitest';
import { iptablesRules } from './transparent-proxy.js';

describe('iptablesRules', () => {
  it('redirects inbound and outbound TCP except the proxy uid, loopback and excluded ports', () => {
    expect(iptablesRules({ redirectInboundPort: 15006, redirectOutboundPort: 15001, dpUid: 5678, excludeInboundPorts: [9902], excludeOutboundPorts: [] })).toBe(
      [
        '*nat',
        ':SKEIN_INBOUND - [0:0]',
        ':SKEIN_OUTBOUND - [0:0]',
        '-A PREROUTING -p tcp -j SKEIN_INBOUND',
        '-A SKEIN_INBOUND -p tcp --dport 9902 -j RETURN',
        '-A SKEIN_INBOUND -p tcp -j REDIRECT --to-ports 15006',
        '-A OUTPUT -p tcp -j SKEIN_OUTBOUND',
        '-A SKEIN_OUTBOUND -m owner --uid-owner 5678 -j RETURN',
        '-A SKEIN_OUTBOUND -o lo -d 127.0.0.1/32 -j RETURN',
        '-A SKEIN_OUTBOUND -p tcp -j REDIRECT --to-ports 15001',
        'COMMIT',
        '',
      ].join('\n'),
    );
  });
});
