// Transparent proxying: a listener with `use_original_dst` asks the kernel where an iptables-redirected
// connection was going (SO_ORIGINAL_DST, through the optional `skein-original-dst` native addon), then,
// like Envoy, hands the connection to the listener bound (or declared with bind_to_port: false) to
// that address:port, falling back to a wildcard listener on that port; with none, it stays on the
// listener that accepted it. ORIGINAL_DST clusters connect to that address.
import { createRequire } from 'node:module';
import net from 'node:net';
import type { ConnectionInfo } from '../registry.js';

export interface OriginalDestination {
  address: string;
  port: number;
}

export type OriginalDstLookup = (socket: net.Socket) => OriginalDestination | null;

interface Addon {
  originalDst(fd: number): OriginalDestination | null;
}

const ADDON = 'skein-original-dst';
let lookup: OriginalDstLookup | undefined;
let unavailable: string | undefined;
let loaded = false;

function load(): void {
  if (loaded) return;
  loaded = true;
  try {
    const addon = createRequire(import.meta.url)(ADDON) as Addon;
    if (typeof addon.originalDst !== 'function') throw new Error('it does not export originalDst');
    lookup = (socket) => {
      const fd = (socket as unknown as { _handle?: { fd?: unknown } })._handle?.fd;
      return typeof fd === 'number' && fd >= 0 ? addon.originalDst(fd) : null;
    };
  } catch (err) {
    const reason = err instanceof Error ? err.message.split('\n')[0] : String(err);
    unavailable =
      `the original destination of redirected connections cannot be read: the optional native addon ${ADDON} ` +
      `is not built (${reason}); run \`npm install\` on Linux with python3, make and a C compiler`;
  }
}

/** Why transparent proxying cannot work in this process, or undefined when it can. */
export function originalDstUnavailable(): string | undefined {
  load();
  return lookup ? undefined : unavailable;
}

/**
 * Tests only: replaces the kernel lookup with `fake`, or simulates a missing addon with a reason
 * string; undefined goes back to the addon.
 */
export function setOriginalDstLookup(fake: OriginalDstLookup | string | undefined): void {
  loaded = fake !== undefined;
  lookup = typeof fake === 'function' ? fake : undefined;
  unavailable = typeof fake === 'string' ? fake : undefined;
}

/**
 * Looks up the original destination of an accepted connection and records it in `info` (the
 * restored local address: filter chains then match on its port). Undefined when the connection was
 * not redirected: no conntrack entry, or it was addressed to the listener itself (forwarding it
 * "back" there would loop).
 */
export function restoreOriginalDst(socket: net.Socket, info: ConnectionInfo): OriginalDestination | undefined {
  load();
  if (!lookup) return undefined;
  let found: OriginalDestination | null;
  try {
    found = lookup(socket);
  } catch {
    return undefined;
  }
  if (!found) return undefined;
  const address = unmapIpv4(found.address);
  if (address === unmapIpv4(socket.localAddress ?? '') && found.port === socket.localPort) return undefined;
  const destination = { address, port: found.port };
  info.originalDestination = destination;
  info.localPort = destination.port;
  return destination;
}

/** Listeners by address, for handing redirected connections over (rebuilt on each config commit). */
export class ListenerIndex<T> {
  private byAddress = new Map<string, T>();

  update(entries: Iterable<{ host: string; port: number; runtime: T }>): void {
    const next = new Map<string, T>();
    for (const { host, port, runtime } of entries) next.set(key(unmapIpv4(host), port), runtime);
    this.byAddress = next;
  }

  /** The listener on exactly address:port, else one on the wildcard address of its family and port. */
  find(destination: OriginalDestination): T | undefined {
    const exact = this.byAddress.get(key(destination.address, destination.port));
    if (exact) return exact;
    const wildcard = net.isIPv6(destination.address) ? '::' : '0.0.0.0';
    return this.byAddress.get(key(wildcard, destination.port));
  }
}

function key(host: string, port: number): string {
  return `${host}|${port}`;
}

function unmapIpv4(address: string): string {
  return address.startsWith('::ffff:') && net.isIPv4(address.slice(7)) ? address.slice(7) : address;
}
