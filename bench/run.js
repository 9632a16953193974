// `npm run bench`: runs every benchmark against the built product and prints figures.
// Each bench module exports `run({ log })`; add new ones to the list.
const benches = ['./api-bench.js', './store-bench.js', './dp-bench.js', './crosszone-bench.js', './xds-bench.js', './kds-bench.js', './policies-bench.js'];

const log = (line) => process.stdout.write(`${line}\n`);
const only = process.argv[2];
for (const path of benches) {
  if (only && !path.includes(only)) continue;
  log(`\n## ${path.replace('./', '').replace('.js', '')}`);
  const mod = await import(path);
  await mod.run({ log });
}
