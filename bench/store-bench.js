// Store throughput: 10,000 Dataplane upserts (a create, then an update, of each) per backend, one
// operation at a time, as the control plane writes. Needs `npm run build` first.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { openStore } from '../dist/store/factory.js';
import { createScratchDatabase, postgresReachable } from '../dist/store/scratch-database.js';

const DATAPLANES = 10_000;
const postgresAdminUrl = process.env.SKEIN_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

function dataplane(i, generation) {
  return {
    type: 'Dataplane',
    mesh: 'default',
    name: `dp-${i}`,
    labels: { 'kuma.io/service': `svc-${i % 50}`, generation: String(generation) },
    spec: {
      networking: {
        address: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`,
        inbound: [{ port: 8080, servicePort: 80 + generation, tags: { 'kuma.io/service': `svc-${i % 50}` } }],
        outbound: [],
      },
    },
  };
}

async function upserts(store) {
  const started = process.hrtime.bigint();
  for (let i = 0; i < DATAPLANES; i++) await store.create(dataplane(i, 1));
  for (let i = 0; i < DATAPLANES; i++) await store.update({ ...dataplane(i, 2), version: 1 });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  if ((await store.count('Dataplane')) !== DATAPLANES) throw new Error('store lost writes');
  return seconds;
}

async function measure(log, backend, open, cleanup) {
  const store = await open();
  try {
    const seconds = await upserts(store);
    const ops = DATAPLANES * 2;
    log(`${backend}: ${ops} ops (${DATAPLANES} creates + ${DATAPLANES} updates) in ${seconds.toFixed(2)} s, ${Math.round(ops / seconds)} ops/s`);
  } finally {
    await store.close();
    await cleanup();
  }
}

export async function run({ log }) {
  await measure(log, 'memory', () => openStore({ type: 'memory' }), async () => {});

  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'skein-store-bench-'));
  await measure(log, 'embedded', () => openStore({ type: 'embedded', dataDir }), async () =>
    fs.rmSync(dataDir, { recursive: true, force: true }),
  );

  if (!(await postgresReachable(postgresAdminUrl))) {
    log(`postgres: skipped (not reachable at ${postgresAdminUrl})`);
    return;
  }
  const db = await createScratchDatabase(postgresAdminUrl, 'skein_bench');
  await measure(log, 'postgres', () => openStore({ type: 'postgres', postgresUrl: db.url }), () => db.drop());
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await run({ log: (line) => process.stdout.write(`${line}\n`) });
}
