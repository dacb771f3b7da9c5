import type { SecurityKeyPrompt } from './backend/types';

// The security key's latest prompt (plug in, touch, PIN), shown by App in one dialog while
// an operation that uses the key runs. The prompts arrive as `security_key` events; the
// operation is the command that started the key (approve, add a key), and when the last one
// ends the prompt goes.

let prompt: SecurityKeyPrompt | undefined = $state.raw();
let running = 0;

export const securityKey = {
  /** What the key asks for now; undefined: nothing to show. */
  get prompt(): SecurityKeyPrompt | undefined {
    return prompt;
  },
};

/**
 * A `security_key` event: shown at once. Outside an operation of this page only a PIN request
 * is (a ceremony waits for it, e.g. after the page was reloaded); a late touch or working prompt
 * of an operation that has ended is not.
 */
export function showSecurityKeyPrompt(next: SecurityKeyPrompt): void {
  if (running === 0 && next.step !== 'pin') return;
  prompt = next;
}

/** The user hid the dialog (a touch or plug-in prompt; the key still waits or times out). */
export function hideSecurityKeyPrompt(): void {
  prompt = undefined;
}

/** Runs an operation that may use the security key; its prompts go when the last such operation ends. */
export async function withSecurityKey<T>(run: () => Promise<T>): Promise<T> {
  running += 1;
  try {
    return await run();
  } finally {
    running -= 1;
    if (running === 0) prompt = undefined;
  }
}
