// The web GUI: static files built from gui/ (Vite) into gui/dist, served at /gui like Kuma's.
// Client-side routes (/gui/meshes/...) get index.html; the GUI itself reads only the REST API.
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import fastifyStatic from '@fastify/static';

/** gui/dist next to src/ or dist/ (this file is src/api-server/gui.ts or dist/api-server/gui.js). */
export const DEFAULT_GUI_DIR = fileURLToPath(new URL('../../gui/dist', import.meta.url));

export function guiAvailable(dir = DEFAULT_GUI_DIR): boolean {
  return fs.existsSync(`${dir}/index.html`);
}

export async function registerGui(app: FastifyInstance, dir = DEFAULT_GUI_DIR): Promise<void> {
  app.get('/gui', (_req, reply) => reply.redirect('/gui/'));
  if (!guiAvailable(dir)) {
    const page = '<!doctype html><title>Skein GUI</title><h1>The GUI is not built</h1><p>This control plane was installed without the GUI assets. Run <code>npm run build</code> (or <code>npm install</code>) in the Skein directory and restart the control plane. The REST API works as usual.</p>';
    app.get('/gui/*', (_req, reply) => reply.code(404).type('text/html').send(page));
    return;
  }
  // One route per built file (wildcard: false), so the catch-all below only sees client-side routes.
  await app.register(fastifyStatic, { root: dir, prefix: '/gui/', wildcard: false, index: ['index.html'] });
  app.get('/gui/*', (req, reply) => {
    // A missing asset is a 404, not the app shell.
    if (req.url.startsWith('/gui/assets/')) return reply.code(404).type('text/plain').send('not found');
    return reply.type('text/html').sendFile('index.html');
  });
}
