// `skein install transparent-proxy`: what the injected kuma-init container runs. It redirects the
// pod's TCP traffic to the data plane with iptables (nat table, applied in one iptables-restore
// transaction): inbound to --redirect-inbound-port, outbound to --redirect-outbound-port, except
// the data plane's own connections (its uid) and loopback. Needs root / NET_ADMIN in the pod.
import { spawnSync } from 'node:child_process';
import { Command } from 'commander';

export interface TransparentProxyOptions {
  redirectInboundPort: number;
  redirectOutboundPort: number;
  dpUid: number;
  excludeInboundPorts: number[];
  excludeOutboundPorts: number[];
}

/** The iptables-restore input (nat table) for these options. */
export function iptablesRules(o: TransparentProxyOptions): string {
  const lines = [
    '*nat',
    ':SKEIN_INBOUND - [0:0]',
    ':SKEIN_OUTBOUND - [0:0]',
    '-A PREROUTING -p tcp -j SKEIN_INBOUND',
    ...o.excludeInboundPorts.map((p) => `-A SKEIN_INBOUND -p tcp --dport ${p} -j RETURN`),
    `-A SKEIN_INBOUND -p tcp -j REDIRECT --to-ports ${o.redirectInboundPort}`,
    '-A OUTPUT -p tcp -j SKEIN_OUTBOUND',
    // The proxy's own upstream connections leave as they are.
    `-A SKEIN_OUTBOUND -m owner --uid-owner ${o.dpUid} -j RETURN`,
    '-A SKEIN_OUTBOUND -o lo -d 127.0.0.1/32 -j RETURN',
    ...o.excludeOutboundPorts.map((p) => `-A SKEIN_OUTBOUND -p tcp --dport ${p} -j RETURN`),
    `-A SKEIN_OUTBOUND -p tcp -j REDIRECT --to-ports ${o.redirectOutboundPort}`,
    'COMMIT',
  ];
  return `${lines.join('\n')}\n`;
}

function port(name: string, v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw new Error(`${name}: "${v}" is not a port (1-65535)`);
  return n;
}

function ports(name: string, v: string): number[] {
  return v === '' ? [] : v.split(',').map((p) => port(name, p.trim()));
}

export function transparentProxyCommand(): Command {
  return new Command('transparent-proxy')
    .description('redirect this network namespace\'s TCP traffic to the data plane (iptables; what kuma-init runs)')
    .option('--redirect-inbound-port <port>', 'port of the data plane\'s inbound listener', '15006')
    .option('--redirect-outbound-port <port>', 'port of the data plane\'s outbound listener', '15001')
    .option('--kuma-dp-uid <uid>', 'uid the data plane runs as (its traffic is not redirected)', '5678')
    .option('--exclude-inbound-ports <ports>', 'comma-separated inbound ports left alone', '')
    .option('--exclude-outbound-ports <ports>', 'comma-separated outbound ports left alone', '')
    .option('--dry-run', 'print the iptables-restore input instead of applying it')
    .action((flags: { redirectInboundPort: string; redirectOutboundPort: string; kumaDpUid: string; excludeInboundPorts: string; excludeOutboundPorts: string; dryRun?: boolean }) => {
      const uid = Number(flags.kumaDpUid);
      if (!Number.isInteger(uid) || uid < 0) throw new Error(`--kuma-dp-uid: "${flags.kumaDpUid}" is not a uid`);
      const rules = iptablesRules({
        redirectInboundPort: port('--redirect-inbound-port', flags.redirectInboundPort),
        redirectOutboundPort: port('--redirect-outbound-port', flags.redirectOutboundPort),
        dpUid: uid,
        excludeInboundPorts: ports('--exclude-inbound-ports', flags.excludeInboundPorts),
        excludeOutboundPorts: ports('--exclude-outbound-ports', flags.excludeOutboundPorts),
      });
      if (flags.dryRun) {
        process.stdout.write(rules);
        return;
      }
      const res = spawnSync('iptables-restore', ['--noflush'], { input: rules, encoding: 'utf8' });
      if (res.error) throw new Error(`iptables-restore: ${res.error.message}`);
      if (res.status !== 0) throw new Error(`iptables-restore exited with ${res.status}: ${res.stderr.trim()}`);
      process.stdout.write('transparent proxy set up\n');
    });
}
