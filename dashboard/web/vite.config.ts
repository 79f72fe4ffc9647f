/// <reference types="vitest/config" />
import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

// Served by the Python API at /pipeline (src/streaming_platform/dashboard/app.py).
export default defineConfig({
  base: '/pipeline/',
  plugins: [react()],
  build: { outDir: 'dist', emptyOutDir: true, chunkSizeWarningLimit: 1500 },
  server: {
    proxy: { '/pipeline/api': 'http://127.0.0.1:3000' },
  },
  test: { include: ['src/**/*.test.ts'], environment: 'node' },
});
