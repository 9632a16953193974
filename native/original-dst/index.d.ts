/**
 * The destination a TCP connection had before an iptables REDIRECT/DNAT rewrote it
 * (SO_ORIGINAL_DST for IPv4, IP6T_SO_ORIGINAL_DST for IPv6), or null when the kernel has none
 * to report (no conntrack entry, not a TCP/IP socket, not Linux).
 */
export function originalDst(fd: number): { address: string; port: number } | null;
