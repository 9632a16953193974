// Builds the GUI into gui/dist; the control plane serves it at /gui (src/api-server/gui.ts).
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

const root = fileURLToPath(new URL('.', import.meta.url));

export default defineConfig({
  root,
  base: '/gui/',
  plugins: [react()],
  build: { outDir: 'dist', emptyOutDir: true, chunkSizeWarningLimit: 1024 },
  // `npm run dev:gui` proxies the API to a local control plane.
  server: { proxy: { '^/(?!gui)': 'http://127.0.0.1:5681' } },
});
