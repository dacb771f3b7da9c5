/// <reference types="vitest/config" />
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';
import { svelte } from '@sveltejs/vite-plugin-svelte';

// The browser-test harness (browser/index.html): the real App on the FakeBackend,
// built like the app (same targets, no inline assets) into dist-browser/.
export default defineConfig({
  root: fileURLToPath(new URL('./browser', import.meta.url)),
  base: './',
  // The app's compiler options: the root above is browser/, where no config is found.
  plugins: [svelte({ configFile: fileURLToPath(new URL('./svelte.config.js', import.meta.url)) })],
  clearScreen: false,
  build: {
    outDir: fileURLToPath(new URL('./dist-browser', import.meta.url)),
    emptyOutDir: true,
    target: ['es2021', 'safari15'],
    assetsInlineLimit: 0,
    cssCodeSplit: true,
    sourcemap: false,
  },
});
