// Support for the browser tests: a static server for dist-browser/ that sends the
// app's own CSP (from tauri.conf.json), Debian's chromium through playwright-core,
// and request fixtures built from the display models in tests/models/.
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { extname, join, normalize } from 'node:path';
import { after, before } from 'node:test';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { accessOf, accountFields, requestFields } from '../fixture-fields.mjs';

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
  user_verification,
  account_id = 'acct_1',
} = {}) {
  const req = {
    ...requestFields(),
    authorization_details: [],
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
    // As tests/fixtures.ts `coreVerificationStep`: an approver whose OS can verify the user.
    security_key_required: req.requires.includes('webauthn'),
    user_verification:
      user_verification ??
      (!req.requires.includes('user_verification')
        ? { kind: 'not_required' }
        : req.requires.includes('webauthn')
          ? { kind: 'security_key' }
          : { kind: 'os_prompt', method: 'polkit' }),
    request_text: [],
    access: accessOf(req),
  };
}

export function makeAccount(overrides = {}) {
  return {
    ...accountFields(),
    created_at: NOW - 86400,
    ...overrides,
  };
}

/**
 * Serves dist-browser/ and launches chromium before the calling test file's tests and
 * stops both after them. Returns `openApp(seed)`: `open` on that browser and server.
 */
export function withServedApp() {
  let server;
  let browser;
  before(async () => {
    server = await serve();
    browser = await launch();
  });
  after(async () => {
    await browser?.close();
    await server?.close();
  });
  return (seed) => open(browser, server.url, seed);
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
