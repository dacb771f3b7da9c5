import type { ApproverRequest } from '../src/lib/backend/types';

/** A well-formed pending request; override any field per test. */
export function makeRequest(overrides: Partial<ApproverRequest> = {}): ApproverRequest {
  return {
    id: 'req_01',
    issuer: 'https://auth.example.test',
    client: { client_id: 'agent-1', client_name: 'Trading Agent', verified: true },
    user: { sub: 'user-1', name: 'Ada Lovelace' },
    binding_message: 'Buy 10 ACME at market',
    scope: ['openid', 'trade'],
    authorization_details: [{ type: 'stock_trade', action: 'buy', symbol: 'ACME', quantity: '10' }],
    context: { ip: '192.0.2.10', user_agent: 'agent/1.0' },
    risk: 'medium',
    requires: [],
    created_at: 1_700_000_000,
    expires_at: 1_700_000_300,
    nonce: 'n0nce-0123456789abcdef0123456789abcdef',
    ...overrides,
  };
}
