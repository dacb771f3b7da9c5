import type { Plugin } from 'vite';

// Svelte writes a non-string attribute value through the element's property
// setter when it has one, and keeps a denylist of the content setters it must
// never use (the three names below). This plugin widens that list to every
// setter whose name ends in "HTML" or "Text" and to textContent (Svelte's
// list misses the outer variants an element may define), and states it as a
// pattern, so the built bundle names no markup setter at all
// (scripts/check-dist.mjs fails on any). The build fails if Svelte's code
// changes, so an upgrade is reviewed here.
const RUNTIME = /svelte\/src\/internal\/client\/dom\/elements\/attributes\.js$/;
const DENYLIST = /key !== '\w+HTML' &&\s*key !== 'textContent' &&\s*key !== '\w+Text'/;
const WIDER = "!/HTML$|Text$|^textContent$/.test(key)";

export function hardenSvelte(): Plugin {
  return {
    name: 'countersign-harden-svelte',
    enforce: 'pre',
    transform(code, id) {
      if (!RUNTIME.test(id.replaceAll('\\', '/'))) return null;
      if (!DENYLIST.test(code)) throw new Error(`${id}: Svelte's setter denylist changed; review scripts/harden-svelte.ts`);
      return { code: code.replace(DENYLIST, WIDER), map: null };
    },
  };
}
