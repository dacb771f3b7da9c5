// The admin API's items as the server sends them (countersign-protocol
// `admin.rs`, docs/protocol.md §10). They reach the UI inside `AdminItem.item`
// (generated as `unknown`: the protocol crate derives no TypeScript for them),
// so they are written here, once, and checked against the Rust types by
// src-tauri/admin_agreement.rs through ui/tests/agreement/admin.json (every
// sample there deserializes into the Rust type, which refuses unknown members;
// `admin-agreement.test.ts` checks the fake's items have the samples' shape).

import type { Risk } from './generated';

/** The `type` of an RFC 9396 detail, and the rest as sent. */
export type AdminDetail = { type?: unknown } & Record<string, unknown>;

/** `countersign_protocol::admin::PendingRequest`. */
export interface AdminPending {
  id: string;
  client_id: string;
  client_name: string;
  verified: boolean;
  sub: string;
  user_name: string;
  binding_message: string;
  scope: string[];
  authorization_details: unknown;
  risk: Risk | (string & {});
  created_at: number;
  expires_at: number;
}

/** `GrantStatus` (open: a later server may add one). */
export type AdminGrantStatus = 'active' | 'expired' | 'revoked' | (string & {});

/** `countersign_protocol::admin::Grant`. */
export interface AdminGrant {
  id: string;
  request_id: string;
  sub: string;
  client_id: string;
  scope: string[];
  authorization_details: unknown;
  amr?: string[];
  issued_at: number;
  expires_at: number;
  status: AdminGrantStatus;
  revoked_at?: number;
  /** Until when its refresh token can still get new access tokens. */
  refreshable_until?: number;
}

/** `countersign_protocol::admin::Client`. */
export interface AdminClient {
  client_id: string;
  client_name: string;
  delivery_mode: string;
  verified: boolean;
  verified_by?: string;
  blocked: boolean;
  blocked_for?: string[];
  created_at: number;
}

/** `countersign_protocol::admin::User`. */
export interface AdminUser {
  sub: string;
  username: string;
  name: string;
  roles: string[];
  disabled: boolean;
  active_devices: number;
}

/** `countersign_protocol::admin::Device`. */
export interface AdminDevice {
  device_id: string;
  sub: string;
  device_name: string;
  platform: string;
  created_at: number;
  revoked_at?: number;
}

/** `countersign_protocol::admin::AuditEntry`. */
export interface AdminAuditEntry {
  seq: number;
  at: number;
  actor: string;
  action: string;
  target?: string;
  sub?: string;
  data: unknown;
  hash: string;
}

/** `countersign_protocol::admin::ActionResult`: whether the action changed anything. */
export interface AdminActionResult {
  changed: boolean;
}

/** The item type of each list. */
export interface AdminItems {
  pending: AdminPending;
  grants: AdminGrant;
  clients: AdminClient;
  users: AdminUser;
  devices: AdminDevice;
  audit: AdminAuditEntry;
}

/**
 * The audit actions of docs/protocol.md §10.1 (`countersign_protocol::admin::AuditAction`; later
 * versions may add more): the suggestions of the audit log's action filter.
 */
export const AUDIT_ACTIONS = [
  'request.created',
  'request.decided',
  'request.cancelled',
  'token.issued',
  'token.revoked',
  'device.enrolled',
  'device.revoked',
  'client.verification',
  'client.blocked',
  'client.unblocked',
  'fatigue.unverified_blocked',
  'fatigue.unverified_unblocked',
  'user.roles',
  'user.added',
  'user.disabled',
  'user.code_set',
  'client.policy',
  'security_key.added',
  'security_key.removed',
  'signing_key.rotated',
  'fatigue.refused',
  'refresh_token.reused',
] as const;
