// Browser test harness: the real App on the FakeBackend, seeded by the test through
// `window.__COUNTERSIGN_SEED__` (set with Playwright's addInitScript). Built only by
// `npm run build:browser` into dist-browser/; never part of the app's bundle.
import { mount } from 'svelte';
import '../src/app.css';
import App from '../src/App.svelte';
import { FakeBackend, type FakeBackendOptions } from '../src/lib/backend/fake';
import type { RequestView } from '../src/lib/backend/types';

interface Seed {
  views?: RequestView[];
  options?: FakeBackendOptions;
}

declare global {
  interface Window {
    __COUNTERSIGN_SEED__?: Seed;
    __harness?: { backend: FakeBackend };
  }
}

const seed = window.__COUNTERSIGN_SEED__ ?? {};
const backend = new FakeBackend(seed.views ?? [], seed.options ?? {});
window.__harness = { backend };

const target = document.getElementById('app');
if (!target) throw new Error('#app missing');
mount(App, { target, props: { backend } });
