import { render, screen, within } from '@testing-library/svelte';
import { describe, expect, it } from 'vitest';
import { makeView, MODELS } from '../../tests/fixtures';
import { pinClock } from '../../tests/clock';
import type { CharFinding, Field } from './backend/types';
import DetailBlock from './DetailBlock.svelte';
import Inbox from './Inbox.svelte';
import WarningList from './WarningList.svelte';

// Issue 19, items 5, 6, 7: every text slot of the window shows the text exactly, with the
// characters the core marks in it as visible markers where they stand (never raw, never an
// escape of the UI's own).

/** The code points a rendered element marks, in order. */
const marked = (el: Element): string[] =>
  [...el.querySelectorAll('mark')].map((m) => (m.textContent ?? '').replace(/^⟦(\S+) .*⟧$/, '$1'));
const codes = (found: readonly CharFinding[]): string[] => found.map((c) => c.code_point);
/** Characters that must never reach the page raw. */
const RAW = /[\u202a-\u202e\u2066-\u2069\u200b\u001b\u0430]/;

function fields(list: readonly Field[]): Field[] {
  return list.flatMap((f) => [
    f,
    ...(f.value.kind === 'object' ? fields(f.value.fields) : f.value.kind === 'array' ? fields(f.value.items) : []),
  ]);
}

describe('text slots', () => {
  pinClock();
  const [email, auth0, payment] = MODELS.text.details as [
    (typeof MODELS.text.details)[0],
    (typeof MODELS.text.details)[0],
    (typeof MODELS.text.details)[0],
  ];

  it('marks lookalike and bidi characters in a summary where they stand', () => {
    render(DetailBlock, { detail: email, total: 3 });
    const summary = screen.getByTestId('detail-summary');
    expect(codes(email.summary!.characters)).toEqual(['U+0430', 'U+202E', 'U+202C']);
    expect(marked(summary)).toEqual(codes(email.summary!.characters));
    expect(summary.textContent).not.toMatch(RAW);
    expect(summary.textContent).not.toContain('\\u{');
    expect(summary).toHaveTextContent('Send “Invoice from p⟦U+0430 CYRILLIC SMALL LETTER A⟧ypal.com');
  });

  it('marks a TAB in multi-line text and counts it', () => {
    render(DetailBlock, { detail: email, total: 3 });
    const body = fields(email.fields).find((f) => f.key === 'body_preview')!;
    const shown = screen.getAllByTestId('field').find((el) => el.getAttribute('data-path') === body.path)!;
    expect(marked(within(shown).getByTestId('field-value'))).toEqual(['U+0009', 'U+0009']);
    expect(within(shown).getByTestId('warning')).toHaveTextContent('2 unusual space characters: U+0009 CHARACTER TABULATION');
  });

  it('shows an Auth0 description revealed, not raw, and the instruction as the summary', () => {
    render(DetailBlock, { detail: auth0, total: 3 });
    const description = screen.getByTestId('field-description');
    expect(marked(description)).toEqual(['U+202E']);
    expect(description.textContent).not.toMatch(RAW);
    expect(description).toHaveTextContent('⟦U+202E RIGHT-TO-LEFT OVERRIDE⟧serahs LPAA 01 yuB');
    expect(marked(screen.getByTestId('detail-summary'))).toEqual(['U+0430']);
    expect(screen.getByTestId('detail-title')).toHaveTextContent('Auth0 request: trade');
  });

  it('marks undescribed paths in their warnings and their path line', () => {
    render(DetailBlock, { detail: payment, total: 3 });
    const messages = screen.getAllByTestId('warning-message').filter((m) => m.textContent?.startsWith('Not described'));
    expect(messages.map(marked)).toEqual([['U+001B'], ['U+0009']]);
    for (const m of messages) expect(m.textContent).not.toMatch(RAW);
    expect(messages[0]).toHaveTextContent('Not described by the schema: /⟦U+001B ESCAPE⟧[2K');
    const paths = screen.getAllByTestId('field-path');
    expect(paths.map(marked)).toEqual([['U+001B'], ['U+0009']]);
    expect(marked(screen.getByTestId('detail-summary'))).toEqual(['U+0430']);
  });

  it('marks every character a warning message quotes, as the core says', () => {
    const warnings = MODELS.text.details.flatMap((d) => [
      ...d.warnings,
      ...fields([...d.fields, ...d.undescribed]).flatMap((f) => f.warnings),
    ]);
    render(WarningList, { warnings });
    const shown = screen.getAllByTestId('warning-message');
    expect(shown).toHaveLength(warnings.length);
    shown.forEach((el, i) => expect(marked(el)).toEqual(codes(warnings[i]!.message_characters)));
    expect(warnings.some((w) => w.message_characters.length > 0)).toBe(true);
  });

  it('gives the inbox card the summaries marked and how many warnings, with the worst kind', () => {
    render(Inbox, { views: [makeView({ display: MODELS.text })], onopen: () => {} });
    const summary = screen.getByTestId('inbox-summary');
    expect(marked(summary)).toEqual([
      ...codes(email.summary!.characters),
      ...codes(auth0.summary!.characters),
      ...codes(payment.summary!.characters),
    ]);
    expect(summary.textContent).not.toMatch(RAW);
    expect(screen.getByTestId('inbox-warnings')).toHaveTextContent(
      `${MODELS.text.warning_count} warnings · Danger: direction-changing characters`,
    );
  });
});
