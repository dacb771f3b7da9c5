/// <reference types="vitest/config" />
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';
import { svelte } from '@sveltejs/vite-plugin-svelte';
import { hardenSvelte } from './scripts/harden-svelte';
import { svelteTesting } from '@testing-library/svelte/vite';

const root = fileURLToPath(new URL('.', import.meta.url));

// The Tauri shell loads `ui/dist` in production and http://localhost:5173 in dev.
export default defineConfig({
  root,
  plugins: [hardenSvelte(), svelte(), svelteTesting()],
  // Tauri prints its own output; keep Vite's visible alongside it.
  clearScreen: false,
  // Expose only VITE_* and the TAURI_ENV_* variables the Tauri CLI sets.
  envPrefix: ['VITE_', 'TAURI_ENV_*'],
  server: {
    port: 5173,
    strictPort: true,
  },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    // WebKitGTK / WKWebView (Safari 15) and WebView2 (Chromium) baseline.
    target: ['es2021', 'safari15'],
    // Emit every asset as a file: no data: URIs, nothing the CSP must special-case.
    assetsInlineLimit: 0,
    // CSS is extracted to .css files (never injected as <style>); style-src is 'self'.
    cssCodeSplit: true,
    sourcemap: false,
  },
  test: {
    environment: 'jsdom',
    include: ['src/**/*.test.ts', 'tests/**/*.test.ts'],
    setupFiles: ['./tests/setup.ts'],
    restoreMocks: true,
  },
});
