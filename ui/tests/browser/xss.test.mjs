// Every text field of every screen gets an XSS corpus: nothing may run, no IPC call
// may be made, no element may be created from data, and the text must be shown as is.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { calls, makeAccount, makeView, model, withServedApp } from './support.mjs';

const PAYLOADS = [
  `<img src=x onerror="window.__xss('img')">`,
  `<script>window.__xss('script')</script>`,
  `<svg onload="window.__xss('svg')"></svg>`,
  `"><iframe srcdoc="<script>parent.__xss('iframe')</script>"></iframe>`,
  `<a href="javascript:window.__xss('href')" id="xss-link">link</a>`,
  `javascript:window.__xss('url')`,
  `{@html '<img src=x onerror=window.__xss(5)>'}`,
  '${window.__xss("template")}',
  `<style>*{display:none}</style><details open ontoggle="window.__xss('toggle')">`,
  `'-window.__xss('quote')-'`,
  `<img src=x onerror="window.__TAURI_INTERNALS__.invoke('approve',{account_id:'acct_1',request_id:'req_01'})">`,
];

let n = 0;
/** A payload, different each time so the test can find each field's text. */
function evil(original) {
  const payload = PAYLOADS[n % PAYLOADS.length];
  n += 1;
  return `${original}${payload}`;
}

// Fields of the display model that hold text (enums such as kind or severity stay valid).
const TEXT_KEYS = new Set(['title', 'type', 'text', 'display', 'utc', 'label', 'key', 'path', 'description', 'message', 'name', 'icon', 'amount', 'currency']);

function poison(value, key) {
  if (typeof value === 'string') return TEXT_KEYS.has(key) ? evil(value) : value;
  if (Array.isArray(value)) return value.map((v) => poison(v, key));
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, poison(v, k)]));
  }
  return value;
}

function evilView() {
  const display = poison(model('purchase-bidi-undescribed'));
  display.warnings.push({ code: 'limit_exceeded', severity: 'danger', index: null, path: null, in_key: false, message: evil('request'), characters: [] });
  const view = makeView({
    display,
    approvable: true,
    request: {
      id: evil('req_01'),
      issuer: evil('https://auth.example.test'),
      client: { client_id: evil('agent-1'), client_name: evil('Agent'), verified: false },
      user: { sub: evil('u1'), name: evil('Ada') },
      binding_message: evil('CODE'),
      scope: [evil('openid'), evil('trade')],
      acr_values: evil('urn:acr'),
      context: { ip: evil('192.0.2.1'), user_agent: evil('ua'), location: evil('loc') },
      risk: evil('extreme'),
      requires: [evil('step')],
    },
  });
  return view;
}

const openApp = withServedApp();

async function assertInert(page, problems, where) {
  await page.waitForTimeout(300);
  const state = await page.evaluate(() => ({
    hits: window.__xssHits,
    ipc: window.__ipcCalls,
    csp: window.__cspViolations,
    injected: document.querySelectorAll('#app img:not(.mark), #app script, #app iframe, #app svg, #app style, #app [onerror], #app [onload], #app a[href^="javascript"], #xss-link').length,
    scripts: document.scripts.length,
  }));
  assert.deepEqual(state.hits, [], `${where}: a payload ran`);
  assert.deepEqual(state.ipc, [], `${where}: an IPC call was made`);
  assert.deepEqual(state.csp, [], `${where}: CSP violations`);
  assert.equal(state.injected, 0, `${where}: elements were created from data`);
  assert.equal(state.scripts, 1, `${where}: only the app's own script`);
  assert.deepEqual(problems, [], `${where}: page errors or dialogs`);
  const decided = (await calls(page)).filter((c) => ['approve', 'deny', 'enroll', 'removeAccount', 'liftUnverifiedBlock', 'submitKeyPassphrase'].includes(c.method));
  assert.deepEqual(decided, [], `${where}: a state-changing call was made`);
}

describe('XSS corpus in every text field', () => {
  it('renders inert in the inbox, the detail view, the history and the accounts', async () => {
    const view = evilView();
    const request = view.item.request;
    const enrolledUser = { sub: evil('u_new'), name: evil('New User'), roles: [evil('user')] };
    const { page, context, problems } = await openApp({
      views: [view],
      options: {
        accounts: [
          makeAccount({
            id: evil('acct'),
            issuer: evil('https://a.example'),
            device_id: evil('dev'),
            user: { sub: evil('s'), name: evil('User'), roles: [] },
            key_store: evil('file'),
            connection: { state: 'disconnected', error: evil('refused'), retry_in_ms: 1000 },
          }),
          makeAccount({ id: 'acct_2' }),
        ],
        history: [
          {
            id: 1,
            account_id: 'acct_1',
            request_id: evil('req_old'),
            decision: 'deny',
            deny_reason: evil('reason'),
            statement_jcs: evil('{}'),
            statement_hash: evil('h'),
            decision_jws: evil('a.b.c'),
            decided_at: 1,
            delivery: evil('delivered'),
            server_status: 200,
            server_answer: evil('{}'),
            delivered_at: 2,
            request,
          },
        ],
        status: { key_store_warning: evil('warning') },
        settings: { start_at_login: null, problems: [evil('cannot read the login item')] },
        enrolledUser,
      },
    });

    await page.getByTestId('inbox-item').waitFor();
    const card = await page.getByTestId('inbox-item').textContent();
    assert.ok(card.includes(request.client.client_name), 'the agent name is shown as text');
    assert.ok(card.includes(request.binding_message), 'the binding message is shown as text');
    await assertInert(page, problems, 'inbox');

    await page.getByTestId('inbox-open').click();
    await page.getByTestId('request-detail').waitFor();
    // Open everything that can be opened (collapsed fields).
    for (const summary of await page.locator('summary').all()) await summary.click();
    const text = await page.getByTestId('request-detail').textContent();
    for (const expected of [request.client.client_id, request.user.name, request.context.user_agent, request.scope[1], view.display.details[0].title]) {
      assert.ok(text.includes(expected), `shown literally: ${expected}`);
    }
    await page.getByTestId('binding-message').hover();
    await assertInert(page, problems, 'detail');

    await page.getByTestId('nav-history').click();
    await page.getByTestId('history-item').waitFor();
    await page.getByTestId('verify').click();
    await page.getByTestId('verify-result').waitFor();
    await assertInert(page, problems, 'history');

    await page.getByTestId('nav-settings').click();
    await page.getByTestId('account').first().waitFor();
    await page.getByTestId('settings-problems').waitFor();
    await assertInert(page, problems, 'settings');

    await page.getByTestId('add-account').click();
    await page.getByLabel('Enrollment link').fill(evil('countersign://enroll?issuer=x'));
    await page.getByRole('button', { name: 'Check link' }).click();
    await page.getByTestId('enroll-error').waitFor();
    await assertInert(page, problems, 'enroll');
    // The preview's user comes from the server: shown as text too.
    await page.getByLabel('Enrollment link').fill('countersign://enroll?issuer=https%3A%2F%2Fauth.example.test&ticket=t');
    await page.getByRole('button', { name: 'Check link' }).click();
    const user = await page.getByTestId('enroll-user').textContent();
    assert.ok(user.includes(enrolledUser.name), `shown literally: ${user}`);
    await assertInert(page, problems, 'enroll preview');
    await context.close();
  });

  it('also renders payloads that arrive live, through events', async () => {
    const { page, context, problems } = await openApp({ views: [], options: { accounts: [makeAccount()] } });
    await page.getByTestId('inbox-empty').waitFor();
    const view = evilView();
    await page.evaluate((v) => {
      window.__harness.backend.receive(v);
      window.__harness.backend.emit({ event: 'withdrawn', account_id: 'nope', request_id: 'x', reason: `<img src=x onerror="window.__xss('event')">` });
    }, view);
    await page.getByTestId('inbox-item').waitFor();
    await assertInert(page, problems, 'live');
    await context.close();
  });
});
