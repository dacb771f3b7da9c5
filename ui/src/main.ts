import { mount } from 'svelte';
import './app.css';
import App from './App.svelte';
import { createBackend } from './lib/backend';
import { applyTheme } from './lib/theme';

const target = document.getElementById('app');
if (!target) {
  throw new Error('Countersign: #app element missing from index.html');
}

// The system's theme until the saved setting is read (App applies it).
applyTheme('system');

// Marks for the desktop benchmark's start-up timeline (docs/performance.md).
performance.mark('app script');
mount(App, { target, props: { backend: createBackend() } });
performance.mark('app mounted');
