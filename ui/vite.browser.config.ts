/// <reference types="vitest/config" />
import { fileURLToPath } from 'node:url';
import { defineConfig, type Plugin } from 'vite';
import { svelte } from '@sveltejs/vite-plugin-svelte';
import { hardenSvelte } from './scripts/harden-svelte';

const APP_ENTRY = '<script type="module" src="/src/main.ts"></script>';
const HARNESS_ENTRY = '<script type="module" src="/browser/harness.ts"></script>';

/** The app's own index.html, with the harness (browser/harness.ts) as its script. */
function harnessEntry(): Plugin {
  return {
    name: 'countersign-harness-entry',
    transformIndexHtml: {
      order: 'pre',
      handler(html) {
        if (!html.includes(APP_ENTRY)) throw new Error(`index.html no longer has ${APP_ENTRY}`);
        return html.replace(APP_ENTRY, HARNESS_ENTRY);
      },
    },
  };
}

// The browser-test harness: the real App on the FakeBackend, in the app's index.html,
// built like the app (same compiler options, targets, no inline assets) into dist-browser/.
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: './',
  plugins: [hardenSvelte(), svelte(), harnessEntry()],
  clearScreen: false,
  build: {
    outDir: 'dist-browser',
    emptyOutDir: true,
    target: ['es2021', 'safari15'],
    assetsInlineLimit: 0,
    cssCodeSplit: true,
    sourcemap: false,
  },
});
