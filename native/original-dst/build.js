'use strict';
// `npm install` hook: builds the addon with node-gyp. When the running Node has its headers
// installed next to it (<prefix>/include/node, as distribution packages and the official tarballs
// do), they are used directly, so the build needs no download.
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const args = ['rebuild'];
const prefix = path.resolve(path.dirname(process.execPath), '..');
if (!process.env.npm_config_nodedir && fs.existsSync(path.join(prefix, 'include', 'node', 'node_api.h'))) {
  args.push(`--nodedir=${prefix}`);
}
// npm tells lifecycle scripts where its bundled node-gyp is.
const gyp = process.env.npm_config_node_gyp;
const result = gyp && fs.existsSync(gyp)
  ? spawnSync(process.execPath, [gyp, ...args], { cwd: __dirname, stdio: 'inherit' })
  : spawnSync('node-gyp', args, { cwd: __dirname, stdio: 'inherit', shell: process.platform === 'win32' });
if (result.error) console.error(`skein-original-dst: cannot run node-gyp: ${result.error.message}`);
process.exit(result.status ?? 1);
