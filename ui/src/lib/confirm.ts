import type { ApproverRequest, BackendError, VerificationStep } from './backend/types';

// Presentation only: whether approving needs the binding code typed, and whether what was
// typed is right, are the approver core's rules (`RequestView.confirmation_required`,
// checked again by the core when approving: crates/approver/src/confirm.rs).

/** Why the code is asked for, in words (the core has already said that it is). */
export function confirmationLabel(request: ApproverRequest): string {
  return request.requires.includes('user_verification')
    ? 'This request asks you to confirm it is you.'
    : 'This is a high-risk request.';
}

/**
 * Why a request cannot be approved here, in words; null when it can. `securityKeys`: whether
 * this app can use a security key (the app status says why not when it cannot).
 */
export function notApprovableReason(
  request: ApproverRequest,
  approvable: boolean,
  displayApprovable: boolean,
  securityKeys = false,
  verification: VerificationStep = { kind: 'not_required' },
): string | null {
  if (approvable) return null;
  if (!displayApprovable) {
    return 'The details break their display schema or could not be shown in full, so they cannot be approved. Deny it, or ask the agent to fix the request.';
  }
  if (verification.kind === 'unavailable') {
    // The core's sentence says why and what would work (crates/approver/src/verify).
    return `This request needs your computer to confirm it is you, and it cannot here: ${verification.reason}.`;
  }
  const unsupported = request.requires.filter((r) => r !== 'user_verification' && !(securityKeys && r === 'webauthn'));
  if (unsupported.length === 1 && unsupported[0] === 'webauthn') {
    return 'This request needs your security key, and this app cannot use one on this computer. Approve it on another device, or deny it.';
  }
  if (unsupported.length > 0) {
    return `This request needs a step this app cannot perform yet (${unsupported.join(', ')}). You can still deny it.`;
  }
  return 'This request cannot be approved here. You can still deny it.';
}

/**
 * What happens after Approve when the computer verifies the user; null when it does not.
 * `method` is the core's name of the operating system's prompt.
 */
export function osVerificationNotice(verification: VerificationStep): string | null {
  if (verification.kind !== 'os_prompt') return null;
  return `After you click Approve, your computer asks you to confirm it is you (${verification.method}): with your password or fingerprint, in its own window. Nothing is signed without it.`;
}

/** A refused approval in words: the core's confirmation errors say what to do. */
export function decisionErrorText(error: BackendError): string {
  switch (error.code) {
    case 'user_verification_cancelled':
      return 'You cancelled the check that it is you. Nothing was signed: approve again when you are ready, or deny.';
    case 'binding_message_mismatch':
      return 'The code you typed is not the binding code shown above. Nothing was signed: check it and type it again.';
    case 'confirmation_required':
    case 'risk_confirmation_required':
      return 'Type the binding code shown above to approve this request.';
    default:
      return error.message;
  }
}
