// The account and request fields that the vitest fixtures (fixtures.ts) and the browser
// tests (browser/support.mjs) share, so both describe the same test user. Plain
// JavaScript: the browser tests run in Node, without a TypeScript step.

/** @typedef {import('../src/lib/backend/types').AccountView} AccountView */
/** @typedef {import('../src/lib/backend/types').ApproverRequest} ApproverRequest */

/**
 * The test account (new objects on every call, so a test may change them).
 * @returns {Pick<AccountView, 'id' | 'issuer' | 'device_endpoint' | 'device_id' | 'user' | 'poll_interval' | 'key_store' | 'connection'>}
 */
export function accountFields() {
  return {
    id: 'acct_1',
    issuer: 'https://auth.example.test',
    device_endpoint: 'https://auth.example.test/device/v1',
    device_id: 'dev_abc',
    user: { sub: 'user-1', name: 'Ada Lovelace', roles: ['user'] },
    poll_interval: 30,
    key_store: 'keychain',
    connection: { state: 'push' },
  };
}

/**
 * A pending request from the test agent to that user, without its details and times
 * (new objects on every call).
 * @returns {Pick<ApproverRequest, 'id' | 'issuer' | 'client' | 'user' | 'binding_message' | 'scope' | 'scope_descriptions' | 'context' | 'risk' | 'requires'>}
 */
export function requestFields() {
  return {
    id: 'req_01',
    issuer: 'https://auth.example.test',
    client: { client_id: 'agent-1', client_name: 'Trading Agent', verified: true },
    user: { sub: 'user-1', name: 'Ada Lovelace' },
    binding_message: 'TRADE-4F7Q',
    scope: ['openid', 'trade'],
    scope_descriptions: { openid: 'Know who you are (your account identifier)' },
    context: { ip: '192.0.2.10', user_agent: 'agent/1.0', location: 'Berlin, DE' },
    risk: 'medium',
    requires: [],
  };
}

/**
 * The access block the core builds for `request` (`AccessView::of` in
 * crates/approver/src/display.rs): the API and each scope with its description. Test data only.
 * @param {ApproverRequest} request
 * @returns {import('../src/lib/backend/types').AccessView}
 */
export function accessOf(request) {
  const descriptions = request.scope_descriptions ?? {};
  return {
    scope_only: request.authorization_details.length === 0,
    audience: request.audience ?? null,
    scopes: request.scope.map((scope, i) => ({
      scope,
      field: `/scope/${i}`,
      description: Object.prototype.hasOwnProperty.call(descriptions, scope) ? (descriptions[scope] ?? null) : null,
      description_field: `/scope_descriptions/${scope.replaceAll('~', '~0').replaceAll('/', '~1')}`,
    })),
  };
}
