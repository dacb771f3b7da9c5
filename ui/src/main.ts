import { mount } from 'svelte';
import './app.css';
import App from './App.svelte';
import { createBackend } from './lib/backend';

const target = document.getElementById('app');
if (!target) {
  throw new Error('Countersign: #app element missing from index.html');
}

mount(App, { target, props: { backend: createBackend() } });
