// A Listener resource compiled into listener filters and selectable filter chains.
import { reject } from '../config-error.js';
import { bool, checkFields, durationMs, list, num, obj, str, type Obj } from '../proto-values.js';
import {
  downstreamTransports,
  listenerFilters,
  networkFilters,
  type CompileContext,
  type DownstreamTransport,
  type ListenerFilter,
  type NetworkFilter,
} from '../registry.js';
import type { Counter } from '../stats.js';
import { checkDistinctMatches, compileChainMatch, type ChainMatch } from './filter-chain-match.js';
import { originalDstUnavailable } from './original-dst.js';

const PLAINTEXT: DownstreamTransport = { secure: false, wrap: (socket) => socket };
const DEFAULT_LISTENER_FILTERS_TIMEOUT_MS = 15_000;

export interface CompiledChain {
  name: string;
  match: ChainMatch;
  transport: DownstreamTransport;
  filters: NetworkFilter[];
}

export interface CompiledListener {
  name: string;
  host: string;
  port: number;
  /** False: no socket; the listener only gets connections handed over by a use_original_dst one. */
  bindToPort: boolean;
  /** Redirected connections go to the listener of their original destination (see original-dst.ts). */
  useOriginalDst: boolean;
  listenerFilters: ListenerFilter[];
  listenerFiltersTimeoutMs: number;
  continueOnListenerFiltersTimeout: boolean;
  chains: CompiledChain[];
  defaultChain: CompiledChain | undefined;
  stats: { cxTotal: Counter; noChainMatch: Counter };
}

export function listenerAddress(listener: Obj, path: string): { host: string; port: number } {
  const address = obj(listener.address, `${path}.address`);
  checkFields(address, `${path}.address`, ['socket_address']);
  const sa = obj(address.socket_address, `${path}.address.socket_address`);
  checkFields(sa, `${path}.address.socket_address`, ['address', 'port_value', 'protocol']);
  if (sa.protocol && sa.protocol !== 'TCP') reject(`${path}.address.socket_address.protocol`, `${String(sa.protocol)} is not supported`);
  const host = str(sa.address);
  if (!host) reject(`${path}.address.socket_address.address`, 'is required');
  return { host, port: num(sa.port_value, 0) };
}

export function compileListener(listener: Obj, ctx: CompileContext): CompiledListener {
  const name = str(listener.name);
  const path = `Listener "${name}"`;
  checkFields(listener, path, [
    'name', 'address', 'filter_chains', 'default_filter_chain', 'listener_filters', 'listener_filters_timeout',
    'continue_on_listener_filters_timeout', 'stat_prefix', 'bind_to_port', 'enable_reuse_port', 'use_original_dst',
    // Informational only: they do not change how connections are handled.
    'traffic_direction', 'metadata',
  ]);
  const bindToPort = bool(listener.bind_to_port, true);
  const useOriginalDst = bool(listener.use_original_dst, false);
  if (useOriginalDst) {
    const unavailable = originalDstUnavailable();
    if (unavailable) reject(`${path}.use_original_dst`, unavailable);
  }
  // enable_reuse_port spreads connections over worker threads; Skein runs one, which is equivalent.
  const { host, port } = listenerAddress(listener, path);
  const statName = str(listener.stat_prefix) || `${host}_${port}`;

  const lFilters = list(listener.listener_filters, `${path}.listener_filters`).map((f, i) => {
    const fpath = `${path}.listener_filters[${i}]`;
    checkFields(f, fpath, ['name', 'typed_config', 'config_type']);
    return listenerFilters.create(f.typed_config, `${fpath}.typed_config`, ctx).instance;
  });
  // Filters that behave by direction (tracing: ingress/egress spans) read it from the context.
  ctx = { ...ctx, trafficDirection: str(listener.traffic_direction) || 'UNSPECIFIED' };
  const chains = list(listener.filter_chains, `${path}.filter_chains`).map((c, i) => compileChain(c, `${path}.filter_chains[${i}]`, ctx));
  checkDistinctMatches(chains.map((c) => c.match), `${path}.filter_chains`);
  const defaultChain = listener.default_filter_chain
    ? compileChain(obj(listener.default_filter_chain, path), `${path}.default_filter_chain`, ctx)
    : undefined;
  if (chains.length === 0 && !defaultChain) reject(`${path}.filter_chains`, 'at least one filter chain is required');

  return {
    name,
    host,
    port,
    bindToPort,
    useOriginalDst,
    listenerFilters: lFilters,
    listenerFiltersTimeoutMs: durationMs(listener.listener_filters_timeout, DEFAULT_LISTENER_FILTERS_TIMEOUT_MS),
    continueOnListenerFiltersTimeout: bool(listener.continue_on_listener_filters_timeout, false),
    chains,
    defaultChain,
    stats: {
      cxTotal: ctx.stats.listener(statName, 'downstream_cx_total'),
      noChainMatch: ctx.stats.listener(statName, 'no_filter_chain_match'),
    },
  };
}

function compileChain(chain: Obj, path: string, ctx: CompileContext): CompiledChain {
  checkFields(chain, path, ['name', 'filter_chain_match', 'filters', 'transport_socket', 'metadata']);
  let transport = PLAINTEXT;
  if (chain.transport_socket) {
    const ts = obj(chain.transport_socket, `${path}.transport_socket`);
    checkFields(ts, `${path}.transport_socket`, ['name', 'typed_config', 'config_type']);
    transport = downstreamTransports.create(ts.typed_config, `${path}.transport_socket.typed_config`, ctx).instance;
  }
  const filters = list(chain.filters, `${path}.filters`).map((f, i) => {
    const fpath = `${path}.filters[${i}]`;
    checkFields(f, fpath, ['name', 'typed_config', 'config_type']);
    const filter = networkFilters.create(f.typed_config, `${fpath}.typed_config`, ctx).instance;
    ctx.created.push(filter);
    return filter;
  });
  if (filters.length === 0 || !filters[filters.length - 1].terminal) reject(`${path}.filters`, 'the last network filter must be a terminal filter (tcp_proxy or http_connection_manager)');
  if (filters.slice(0, -1).some((f) => f.terminal)) reject(`${path}.filters`, 'a terminal filter must be the last one');
  return { name: str(chain.name), match: compileChainMatch(chain.filter_chain_match, `${path}.filter_chain_match`), transport, filters };
}

/** Stops the filters of a listener config that no longer takes new connections. */
export function drainListener(listener: CompiledListener): void {
  for (const chain of [...listener.chains, ...(listener.defaultChain ? [listener.defaultChain] : [])]) {
    for (const filter of chain.filters) filter.drain();
  }
}
