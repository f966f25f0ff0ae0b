import { resolve } from 'node:path';
import { defaultClientConditions, defineConfig } from 'vite';

// The workspace packages are bundled from their TypeScript sources (the `@promptkd/source` condition), so the page
// needs no `npm run build`; `browser` picks @promptkd/tfjs-env's browser entry. `base: './'` makes the built folder
// servable from any path of any static host.
export default defineConfig({
  base: './',
  resolve: { conditions: ['@promptkd/source', ...defaultClientConditions] },
  build: {
    target: 'es2022',
    chunkSizeWarningLimit: 8000,
    rollupOptions: { input: { index: resolve(import.meta.dirname, 'index.html'), bench: resolve(import.meta.dirname, 'bench.html') } },
  },
  esbuild: { target: 'es2022' },
  server: { host: '127.0.0.1', port: 5173 },
  preview: { host: '127.0.0.1', port: 4173 },
});
