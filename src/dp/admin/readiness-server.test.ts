import { afterEach, describe, expect, it } from 'vitest';
import { startReadinessServer, type ReadinessServer } from './readiness-server.js';

let server: ReadinessServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

describe('readiness server', () => {
  it('GET /ready is 503 until the data plane is ready, then 200', async () => {
    let ready = false;
    server = await startReadinessServer(0, '127.0.0.1', () => ready);
    const get = async (p: string) => {
      const res = await fetch(`http://127.0.0.1:${server!.port}${p}`);
      return [res.status, await res.text()];
    };
    expect(await get('/ready')).toEqual([503, 'NOT READY\n']);
    ready = true;
    expect(await get('/ready')).toEqual([200, 'READY\n']);
    expect(await get('/config_dump')).toEqual([404, 'not found: GET /ready\n']);
  });
});
