import { vitePreprocess } from '@sveltejs/vite-plugin-svelte';

/** @type {import('@sveltejs/vite-plugin-svelte').SvelteConfig} */
export default {
  preprocess: vitePreprocess(),
  compilerOptions: {
    runes: true,
    // Build each component's DOM with createElement, not by parsing a string
    // of markup into a <template>: the bundle then has no path that turns a
    // string into markup, which scripts/check-dist.mjs verifies.
    fragments: 'tree',
  },
};
