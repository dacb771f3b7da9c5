import type { DisplayModel, TextFinding, Warning } from '../src/lib/backend/types';
import { MODELS } from './fixtures';

/** An agent name with a RIGHT-TO-LEFT OVERRIDE at UTF-16 offset 5 (shows as "Acme Agent" reversed after it). */
export const SPOOFED_NAME = 'Acme \u202Etnega';

const warning: Warning = {
  code: 'bidi_control',
  severity: 'danger',
  index: null,
  path: null,
  in_key: false,
  message:
    'The agent’s name: 1 bidirectional control (can reorder the text you see) character: U+202E RIGHT-TO-LEFT OVERRIDE at position 5',
  message_characters: [],
  characters: [{ code_point: 'U+202E', name: 'RIGHT-TO-LEFT OVERRIDE', position: 5, utf16_offset: 5 }],
};

/** What the core reports for `SPOOFED_NAME` as `client_name` (countersign-approver `request_text`). */
export const SPOOFED_NAME_FINDINGS: TextFinding[] = [{ field: '/client/client_name', warnings: [warning] }];

/** `MODELS.mixed` with the request-level warning the core adds for it. */
export function mixedWithNameWarning(): DisplayModel {
  const model = JSON.parse(JSON.stringify(MODELS.mixed)) as DisplayModel;
  model.warnings.push(warning);
  model.warning_count += 1;
  model.max_severity = 'danger';
  model.worst_warning = { code: 'bidi_control', severity: 'danger', text: 'direction-changing characters' };
  return model;
}
