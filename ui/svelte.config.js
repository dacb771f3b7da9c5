import { vitePreprocess } from '@sveltejs/vite-plugin-svelte';

/** @type {import('@sveltejs/vite-plugin-svelte').SvelteConfig} */
export default {
  preprocess: vitePreprocess(),
  compilerOptions: {
    runes: true,
    // Build each component's DOM with createElement, not by parsing an HTML
    // string into a <template> (`innerHTML`): the bundle then has no path that
    // turns a string into markup, which scripts/check-dist.mjs verifies.
    fragments: 'tree',
  },
};
