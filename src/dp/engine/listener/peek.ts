// Reads the first bytes of a connection without consuming them: whatever is read is pushed back
// with unshift() before the connection is handed on.
import type net from 'node:net';

/**
 * Accumulates data until `decide` returns a result (or the peer stops sending), then puts the bytes
 * back. Resolves with undefined if the connection ends or `signal` aborts before a decision.
 */
export function peek<T>(socket: net.Socket, signal: AbortSignal, decide: (bytes: Buffer) => T | 'incomplete'): Promise<T | undefined> {
  return new Promise((resolve) => {
    if (signal.aborted) {
      resolve(undefined);
      return;
    }
    let buffered: Buffer = Buffer.alloc(0);
    const finish = (result: T | undefined): void => {
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.off('close', onEnd);
      signal.removeEventListener('abort', onEnd);
      socket.pause();
      if (buffered.length > 0) socket.unshift(buffered);
      resolve(result);
    };
    const onData = (chunk: Buffer): void => {
      buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
      const result = decide(buffered);
      if (result !== 'incomplete') finish(result);
    };
    const onEnd = (): void => finish(undefined);
    socket.on('data', onData);
    socket.once('end', onEnd);
    socket.once('close', onEnd);
    signal.addEventListener('abort', onEnd);
  });
}
