// One bound listening socket. Its config can be swapped without closing the socket: connections
// accepted before the swap keep the filter chain they were given (and drain), new ones get the new one.
import net from 'node:net';
import type { ConnectionInfo, DownstreamConnection, DownstreamTransport, NetworkFilter } from '../registry.js';
import { selectChain } from './filter-chain-match.js';
import { drainListener, type CompiledChain, type CompiledListener } from './compile-listener.js';
import { restoreOriginalDst, type ListenerIndex } from './original-dst.js';

const ignore = (): void => {};

export class ListenerRuntime {
  private readonly server: net.Server;

  constructor(
    private config: CompiledListener,
    /** The engine's listeners by address, where use_original_dst hands redirected connections over. */
    private readonly index?: ListenerIndex<ListenerRuntime>,
  ) {
    this.server = net.createServer({ noDelay: true }, (socket) => this.onConnection(socket));
  }

  get host(): string {
    return this.config.host;
  }

  /** The configured port; for port 0, the one the OS picked. */
  get port(): number {
    const address = this.server.address();
    return address && typeof address === 'object' ? address.port : this.config.port;
  }

  get current(): CompiledListener {
    return this.config;
  }

  bind(): Promise<void> {
    if (!this.config.bindToPort) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const onError = (err: Error): void => reject(new Error(`Listener "${this.config.name}": cannot bind ${this.config.host}:${this.config.port}: ${err.message}`));
      this.server.once('error', onError);
      this.server.listen({ host: this.config.host, port: this.config.port }, () => {
        this.server.off('error', onError);
        resolve();
      });
    });
  }

  /** New connections use `next`; the previous config drains. */
  swap(next: CompiledListener): void {
    const previous = this.config;
    if (previous === next) return;
    this.config = next;
    drainListener(previous);
  }

  /** Stops accepting; connections in flight finish on the config they have. */
  close(): Promise<void> {
    drainListener(this.config);
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private onConnection(socket: net.Socket): void {
    // Errors before a filter takes over (e.g. resets while peeking) must not crash the process.
    socket.on('error', ignore);
    const info: ConnectionInfo = {
      localPort: socket.localPort ?? 0,
      remoteAddress: socket.remoteAddress ?? '',
      transportProtocol: 'raw_buffer',
      serverName: '',
      applicationProtocols: [],
    };
    if (this.config.useOriginalDst) {
      const destination = restoreOriginalDst(socket, info);
      const target = destination && this.index?.find(destination);
      if (target && target !== this) {
        target.accept(socket, info);
        return;
      }
    }
    this.accept(socket, info);
  }

  /** Runs a connection through this listener: accepted here, or handed over by a use_original_dst one. */
  accept(socket: net.Socket, info: ConnectionInfo): void {
    const config = this.config;
    config.stats.cxTotal.value++;
    if (config.listenerFilters.length === 0) this.dispatch(config, socket, info);
    else void this.inspectThenDispatch(config, socket, info);
  }

  private async inspectThenDispatch(config: CompiledListener, socket: net.Socket, info: ConnectionInfo): Promise<void> {
    const timeout = new AbortController();
    const timer = config.listenerFiltersTimeoutMs > 0 ? setTimeout(() => timeout.abort(), config.listenerFiltersTimeoutMs) : undefined;
    for (const filter of config.listenerFilters) await filter.inspect(socket, info, timeout.signal);
    clearTimeout(timer);
    if (socket.destroyed) return;
    if (timeout.signal.aborted && !config.continueOnListenerFiltersTimeout) {
      socket.destroy();
      return;
    }
    this.dispatch(config, socket, info);
  }

  private dispatch(config: CompiledListener, socket: net.Socket, info: ConnectionInfo): void {
    const chain: CompiledChain | undefined = selectChain(config.chains, info) ?? config.defaultChain;
    if (!chain) {
      config.stats.noChainMatch.value++;
      socket.destroy();
      return;
    }
    const wrapped = chain.transport.wrap(socket, info);
    if (!wrapped) return;
    runFilters(chain.filters, 0, newConnection(wrapped, info, chain.transport));
  }
}

function newConnection(socket: DownstreamConnection['socket'], info: ConnectionInfo, transport: DownstreamTransport): DownstreamConnection {
  if (!transport.onEstablished) {
    const ready = Promise.resolve(true);
    return { socket, info, secure: transport.secure, established: () => ready };
  }
  let resolve: (ok: boolean) => void = ignore;
  const ready = new Promise<boolean>((r) => (resolve = r));
  const conn: DownstreamConnection = { socket, info, secure: transport.secure, established: () => ready };
  transport.onEstablished(socket, (result) => {
    // Set synchronously, before any request on the connection can be read.
    if (result) conn.peer = result;
    resolve(result !== false);
  });
  return conn;
}

/** Runs the network filters from `from` on; a filter answering with a promise suspends the chain. */
function runFilters(filters: NetworkFilter[], from: number, conn: DownstreamConnection): void {
  for (let i = from; i < filters.length; i++) {
    const result = filters[i].onConnection(conn);
    if (result === true) continue;
    if (result === false) return;
    result.then(
      (proceed) => {
        if (proceed && !conn.socket.destroyed) runFilters(filters, i + 1, conn);
      },
      () => conn.socket.destroy(),
    );
    return;
  }
}
