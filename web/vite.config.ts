import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

/** The Usage page: built into web/dist, served by the service at `/`. */
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/',
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    assetsDir: 'assets',
    // names carry a content hash: the service caches /assets/ for a year
    sourcemap: false,
    target: 'es2022',
  },
});
