// Support for the browser tests: a static server for dist-browser/ that sends the
// app's own CSP (from tauri.conf.json), Debian's chromium through playwright-core,
// and request fixtures built from the display models in tests/models/.
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { extname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const ui = fileURLToPath(new URL('../..', import.meta.url));
const dist = join(ui, 'dist-browser');

/** The CSP the desktop app enforces, as one header value. */
export function appCsp() {
  const conf = JSON.parse(readFileSync(join(ui, '..', 'tauri.conf.json'), 'utf8'));
  return Object.entries(conf.app.security.csp)
    .map(([directive, value]) => `${directive} ${value}`)
    .join('; ');
}

const TYPES = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css', '.svg': 'image/svg+xml' };

/** Serves dist-browser/ on a free loopback port; resolves to { url, close }. */
export function serve() {
  const csp = appCsp();
  const server = http.createServer((req, res) => {
    const path = normalize(decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname));
    const file = join(dist, path === '/' ? 'index.html' : path);
    if (!file.startsWith(dist)) {
      res.writeHead(403).end();
      return;
    }
    try {
      const body = readFileSync(file);
      res.writeHead(200, {
        'content-type': TYPES[extname(file)] ?? 'application/octet-stream',
        'content-security-policy': csp,
      });
      res.end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      resolve({ url: `http://127.0.0.1:${port}/`, close: () => new Promise((r) => server.close(r)) });
    });
  });
}

/** Debian's chromium (never a downloaded browser). */
export function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  });
}

export function model(name) {
  return JSON.parse(readFileSync(join(ui, 'tests', 'models', `${name}.model.json`), 'utf8'));
}

export const NOW = Math.floor(Date.now() / 1000);

export function makeView({
  request = {},
  display = model('mixed-request'),
  approvable,
  confirmation_required,
  account_id = 'acct_1',
} = {}) {
  const req = {
    id: 'req_01',
    issuer: 'https://auth.example.test',
    client: { client_id: 'agent-1', client_name: 'Trading Agent', verified: true },
    user: { sub: 'user-1', name: 'Ada Lovelace' },
    binding_message: 'TRADE-4F7Q',
    scope: ['openid', 'trade'],
    authorization_details: [],
    context: { ip: '192.0.2.10', user_agent: 'agent/1.0', location: 'Berlin, DE' },
    risk: 'medium',
    requires: [],
    created_at: NOW - 30,
    expires_at: NOW + 600,
    nonce: 'n0nce-0123456789abcdef',
    ...request,
  };
  return {
    item: { account_id, request: req, status: 'pending', status_reason: null, received_at: req.created_at, updated_at: req.created_at },
    display,
    approvable: approvable ?? display.approvable,
    // The core's verdict (as tests/fixtures.ts: the server's level and user_verification).
    confirmation_required:
      confirmation_required ?? (req.requires.includes('user_verification') || !['low', 'medium'].includes(req.risk)),
    request_text: [],
  };
}

export function makeAccount(overrides = {}) {
  return {
    id: 'acct_1',
    issuer: 'https://auth.example.test',
    device_endpoint: 'https://auth.example.test/device/v1',
    device_id: 'dev_abc',
    user: { sub: 'user-1', name: 'Ada Lovelace', roles: ['user'] },
    poll_interval: 30,
    key_store: 'keychain',
    created_at: NOW - 86400,
    connection: { state: 'push' },
    ...overrides,
  };
}

/**
 * Opens the harness with `seed` ({ views, options }). Before any page script runs,
 * it installs spies: `__xss(tag)` (what a payload would call), a fake Tauri IPC
 * (`__TAURI_INTERNALS__.invoke`) that records every call, CSP violations and page errors.
 */
export async function open(browser, url, seed) {
  const context = await browser.newContext({ viewport: { width: 1100, height: 900 } });
  const page = await context.newPage();
  const problems = [];
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  page.on('dialog', (d) => {
    problems.push(`dialog: ${d.message()}`);
    void d.dismiss();
  });
  await page.addInitScript((s) => {
    window.__COUNTERSIGN_SEED__ = s;
    window.__xssHits = [];
    window.__xss = (tag) => window.__xssHits.push(String(tag));
    window.__ipcCalls = [];
    window.__TAURI_INTERNALS__ = {
      invoke: (cmd, args) => {
        window.__ipcCalls.push({ cmd, args });
        return Promise.resolve(null);
      },
      transformCallback: () => 0,
    };
    window.__cspViolations = [];
    document.addEventListener('securitypolicyviolation', (e) =>
      window.__cspViolations.push(`${e.violatedDirective}: ${e.blockedURI}`),
    );
  }, seed);
  await page.goto(url);
  return { page, context, problems };
}

/** The fake backend's recorded calls (method names). */
export function calls(page) {
  return page.evaluate(() => window.__harness.backend.calls.map((c) => ({ method: c.method, args: c.args })));
}
