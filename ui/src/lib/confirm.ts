import type { ApproverRequest } from './backend/types';
import { riskTone } from './risk';

/**
 * Whether approving needs the deliberate confirmation of typing the binding
 * code: high or critical risk (unknown levels count as critical), or a request
 * that requires user verification (the app's local check).
 */
export function needsTypedConfirmation(request: ApproverRequest): boolean {
  const tone = riskTone(request.risk);
  return tone === 'high' || tone === 'critical' || request.requires.includes('user_verification');
}

/** Whether `typed` is the binding code (surrounding spaces ignored, nothing else). */
export function confirmsBindingMessage(request: ApproverRequest, typed: string): boolean {
  const t = typed.trim();
  return t.length > 0 && t === request.binding_message.trim();
}

/** Why a request cannot be approved here, in words; null when it can. */
export function notApprovableReason(request: ApproverRequest, approvable: boolean, displayApprovable: boolean): string | null {
  if (approvable) return null;
  if (!displayApprovable) {
    return 'The details break their display schema or could not be shown in full, so they cannot be approved. Deny it, or ask the agent to fix the request.';
  }
  const unsupported = request.requires.filter((r) => r !== 'user_verification');
  if (unsupported.length > 0) {
    return `This request needs a step this app cannot perform yet (${unsupported.join(', ')}). You can still deny it.`;
  }
  return 'This request cannot be approved here. You can still deny it.';
}
