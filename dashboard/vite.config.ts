import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

// Built into dashboard/dist and served by the API server itself at /dashboard (src/dashboard/plugin.ts).
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/dashboard/',
  publicDir: false,
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    // Everything ships as files: the server's Content-Security-Policy allows no inline code or data: scripts.
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    sourcemap: false,
  },
  logLevel: 'warn',
});
