import { cleanup, fireEvent, render, screen, within } from '@testing-library/svelte';
import { flushSync } from 'svelte';
import { describe, expect, it, vi } from 'vitest';
import { pinClock, tick } from '../../tests/clock';
import { makeView, MODELS } from '../../tests/fixtures';
import { FakeBackend } from './backend/fake';
import type { RequestView } from './backend/types';
import RequestDetail from './RequestDetail.svelte';
import { mixedWithNameWarning, SPOOFED_NAME, SPOOFED_NAME_FINDINGS } from '../../tests/spoof';

function show(view: RequestView, extra: Partial<{ goneReason: string }> = {}) {
  const backend = new FakeBackend([view]);
  const ondecided = vi.fn();
  const onclose = vi.fn();
  const result = render(RequestDetail, { backend, view, onclose, ondecided, ...extra });
  return { backend, ondecided, onclose, ...result };
}

describe('RequestDetail', () => {
  pinClock();

  it('shows who asks, for whom, the binding code large, scope, requirements and context', () => {
    show(
      makeView({
        request: {
          client: { client_id: 'agent-trader-01', client_name: 'Portfolio Agent', verified: false },
          user: { sub: 'u_1001', name: 'Zoë Martin' },
          requires: ['user_verification'],
        },
      }),
    );
    expect(screen.getByRole('heading', { level: 2 })).toHaveTextContent('Request from Portfolio Agent');
    expect(screen.getByRole('heading', { level: 2 })).toHaveFocus();
    expect(screen.getByTestId('client-id')).toHaveTextContent('agent-trader-01');
    expect(screen.getByTestId('client-verified')).toHaveTextContent('Not verified');
    expect(screen.getByTestId('on-behalf-of')).toHaveTextContent('Zoë Martin (u_1001)');
    expect(screen.getByTestId('binding-message')).toHaveTextContent('TRADE-4F7Q');
    expect(within(screen.getByTestId('scope')).getAllByTestId('scope-name').map((li) => li.textContent)).toEqual([
      'openid',
      'trade',
    ]);
    expect(screen.getByText('Confirm it is you (your computer asks, or your security key)')).toBeInTheDocument();
    const context = screen.getByTestId('context');
    expect(context).toHaveTextContent('192.0.2.10');
    expect(context).toHaveTextContent('agent/1.0');
    expect(context).toHaveTextContent('Berlin, DE');
  });

  it('says when the agent is verified', () => {
    show(makeView());
    expect(screen.getByTestId('client-verified')).toHaveTextContent('Verified by your server’s administrator');
  });

  it('renders every detail and every field, nested ones included', () => {
    show(makeView({ display: MODELS.mixed }));
    const details = screen.getAllByTestId('detail');
    expect(details.map((d) => d.dataset.type)).toEqual([
      'urn:countersign:details:v1:stock_trade',
      'urn:countersign:details:v1:send_email',
      'customer_information',
    ]);
    const paths = screen.getAllByTestId('field').map((f) => f.dataset.path);
    // Every path of the model, nested items included.
    const expected: string[] = [];
    const walk = (fields: { path: string; value: { kind: string; fields?: unknown; items?: unknown } }[]) => {
      for (const f of fields) {
        expected.push(f.path);
        if (f.value.kind === 'object') walk(f.value.fields as never);
        if (f.value.kind === 'array') walk(f.value.items as never);
      }
    };
    for (const d of MODELS.mixed.details) walk([...d.fields, ...d.undescribed] as never);
    expect(paths).toEqual(expected);
    const trade = details[0] as HTMLElement;
    expect(within(trade).getByTestId('detail-summary')).toHaveTextContent('buy 10 AAPL (limit)');
    expect(trade).toHaveTextContent('Limit price 187.25 USD');
    expect(trade).toHaveTextContent('2026-03-05T21:00:00Z');
    expect(screen.getByText('attached are the Q1 figures we discussed.', { exact: false })).toBeInTheDocument();
  });

  it('puts warnings first, shows undescribed fields under their heading and reveals hidden characters', () => {
    show(makeView({ display: MODELS.bidi }));
    const top = screen.getByTestId('request-warnings');
    expect(within(top).getByRole('heading')).toHaveTextContent('2 warnings: read them before you decide');
    expect(within(top).getAllByTestId('warning').map((w) => w.dataset.code)).toEqual(['bidi_control', 'undescribed_field']);
    expect(top).toHaveTextContent('Danger:');

    const undescribed = screen.getByTestId('undescribed');
    expect(within(undescribed).getByRole('heading')).toHaveTextContent('Not described by the schema');
    expect(undescribed).toHaveTextContent('/extra');
    expect(undescribed).toHaveTextContent('nested');

    const description = screen.getAllByTestId('field').find((f) => f.dataset.path === '/items/0/description') as HTMLElement;
    const mark = description.querySelector('mark');
    expect(mark).toHaveTextContent('U+202E RIGHT-TO-LEFT OVERRIDE');
    expect(description.textContent).not.toContain('\u202e');
  });

  it('reveals a bidi control in the agent name wherever it is shown, and warns about it', () => {
    show(
      makeView({
        request: { client: { client_id: 'c', client_name: SPOOFED_NAME, verified: false } },
        display: mixedWithNameWarning(),
        request_text: SPOOFED_NAME_FINDINGS,
      }),
    );
    for (const el of [screen.getByRole('heading', { level: 2 }), screen.getByTestId('client-name')]) {
      expect(el.querySelector('mark')).toHaveTextContent('U+202E RIGHT-TO-LEFT OVERRIDE');
      expect(el.textContent).not.toContain('\u202e');
    }
    const top = screen.getByTestId('request-warnings');
    expect(top).toHaveTextContent('The agent’s name: 1 bidirectional control');
  });

  it('marks a flagged value in the summary where it stands, never raw', () => {
    show(makeView({ display: MODELS.invalid }));
    const summary = screen.getByTestId('detail-summary');
    expect(summary.querySelector('mark')).toHaveTextContent('U+200B ZERO WIDTH SPACE');
    expect(summary).toHaveTextContent('buy 10 AAPL⟦U+200B ZERO WIDTH SPACE⟧ (market)');
    expect(summary.textContent).not.toContain('\u200b');
  });

  it('approves a low-risk request with one click', async () => {
    const view = makeView({ request: { risk: 'low' } });
    const { backend, ondecided } = show(view);
    expect(screen.queryByTestId('confirm-code')).toBeNull();
    await fireEvent.click(screen.getByTestId('approve'));
    await vi.waitFor(() => expect(ondecided).toHaveBeenCalledOnce());
    expect(backend.calls.filter((c) => c.method === 'approve')).toEqual([{ method: 'approve', args: ['acct_1', 'req_01'] }]);
  });

  it('makes high and critical risk approvals deliberate: the binding code is typed and the core checks it', async () => {
    const { backend, ondecided } = show(makeView({ request: { risk: 'high' } }));
    const approve = screen.getByTestId('approve');
    expect(approve).toBeDisabled();
    const input = screen.getByLabelText(/This is a high-risk request. Type the binding code to approve/);
    await fireEvent.input(input, { target: { value: '   ' } });
    expect(approve).toBeDisabled();
    // A wrong code reaches the core, which refuses it: nothing is decided.
    await fireEvent.input(input, { target: { value: 'TRADE-4F7' } });
    expect(approve).toBeEnabled();
    await fireEvent.click(approve);
    expect(await screen.findByTestId('decision-error')).toHaveTextContent(
      'The code you typed is not the binding code shown above. Nothing was signed',
    );
    expect(ondecided).not.toHaveBeenCalled();
    await fireEvent.input(input, { target: { value: ' TRADE-4F7Q ' } });
    await fireEvent.click(approve);
    await vi.waitFor(() => expect(ondecided).toHaveBeenCalledOnce());
    expect(backend.calls.filter((c) => c.method === 'approve').map((c) => c.args)).toEqual([
      ['acct_1', 'req_01', 'TRADE-4F7'],
      ['acct_1', 'req_01', ' TRADE-4F7Q '],
    ]);
  });

  it.each(['critical', 'galactic'])('treats %s risk as needing the typed code', (risk) => {
    show(makeView({ request: { risk } }));
    expect(screen.getByTestId('approve')).toBeDisabled();
    expect(screen.getByTestId('confirm-code')).toBeInTheDocument();
  });

  it('asks for the code exactly when the core says so, whatever the risk badge says', async () => {
    // The server said low, but a detail rendered here is high: the core asks.
    const { unmount } = show(makeView({ request: { risk: 'low' }, confirmation_required: true }));
    expect(screen.getByTestId('confirm-code')).toBeInTheDocument();
    expect(screen.getByTestId('approve')).toBeDisabled();
    unmount();
    // And the UI keeps no rule of its own that would ask where the core does not.
    const { backend, ondecided } = show(makeView({ request: { risk: 'high' }, confirmation_required: false }));
    expect(screen.queryByTestId('confirm-code')).toBeNull();
    await fireEvent.click(screen.getByTestId('approve'));
    await vi.waitFor(() => expect(ondecided).toHaveBeenCalledOnce());
    expect(backend.calls.find((c) => c.method === 'approve')?.args).toEqual(['acct_1', 'req_01']);
  });

  it('says it is about the user when the request requires user verification', () => {
    show(makeView({ request: { risk: 'low', requires: ['user_verification'] } }));
    expect(screen.getByLabelText(/This request asks you to confirm it is you. Type the binding code/)).toBeInTheDocument();
  });

  it('says before approving that the computer will ask who it is, and waits for it', async () => {
    const view = makeView({ request: { risk: 'low', requires: ['user_verification'] } });
    const { backend, ondecided } = show(view);
    expect(screen.getByTestId('os-verification')).toHaveTextContent(
      'After you click Approve, your computer asks you to confirm it is you (polkit)',
    );
    await fireEvent.input(screen.getByTestId('confirm-code'), { target: { value: 'TRADE-4F7Q' } });
    await fireEvent.click(screen.getByTestId('approve'));
    await vi.waitFor(() => expect(ondecided).toHaveBeenCalledOnce());
    expect(backend.calls.find((c) => c.method === 'approve')?.args).toEqual(['acct_1', 'req_01', 'TRADE-4F7Q']);
    cleanup();
    // No step: no notice.
    show(makeView({ request: { risk: 'low', requires: [] } }));
    expect(screen.queryByTestId('os-verification')).toBeNull();
  });

  it('a cancelled or refused check signs nothing and says so', async () => {
    for (const [answer, said] of [
      ['cancelled', 'You cancelled the check that it is you. Nothing was signed'],
      ['refused', 'the operating system did not verify you'],
    ] as const) {
      const view = makeView({ request: { risk: 'low', requires: ['user_verification'] } });
      const backend = new FakeBackend([view], { osVerification: answer });
      const ondecided = vi.fn();
      render(RequestDetail, { backend, view, onclose: vi.fn(), ondecided });
      await fireEvent.input(screen.getByTestId('confirm-code'), { target: { value: 'TRADE-4F7Q' } });
      await fireEvent.click(screen.getByTestId('approve'));
      expect(await screen.findByTestId('decision-error')).toHaveTextContent(said);
      expect(ondecided).not.toHaveBeenCalled();
      expect(await backend.history()).toEqual([]);
      cleanup();
    }
  });

  it('offers no approval where the computer cannot confirm who it is, says why and what works', async () => {
    const reason =
      'this request requires your operating system to verify that it is you, which is not possible here (no polkit authentication agent); approve it on another device where you are enrolled, or deny it';
    const view = makeView({
      request: { requires: ['user_verification'] },
      approvable: false,
      user_verification: { kind: 'unavailable', reason },
    });
    const { backend } = show(view);
    expect(screen.queryByTestId('approve')).toBeNull();
    expect(screen.queryByTestId('os-verification')).toBeNull();
    expect(screen.getByTestId('not-approvable')).toHaveTextContent('no polkit authentication agent');
    expect(screen.getByTestId('not-approvable')).toHaveTextContent('another device');
    await fireEvent.click(screen.getByTestId('deny'));
    await fireEvent.click(screen.getByTestId('deny-other'));
    await fireEvent.click(screen.getByTestId('confirm-deny'));
    await vi.waitFor(() => expect(backend.calls.some((c) => c.method === 'deny')).toBe(true));
  });

  it('offers no approval for a request that is not approvable, and says why', async () => {
    const { backend } = show(makeView({ display: MODELS.invalid }));
    expect(screen.queryByTestId('approve')).toBeNull();
    expect(screen.getByTestId('not-approvable')).toHaveTextContent('break their display schema');
    // Deny stays possible.
    await fireEvent.click(screen.getByTestId('deny'));
    await fireEvent.click(screen.getByTestId('deny-wrong_details'));
    await fireEvent.click(screen.getByTestId('confirm-deny'));
    await vi.waitFor(() => expect(backend.calls.some((c) => c.method === 'deny')).toBe(true));
  });

  it('says a step this app cannot do blocks approval', () => {
    show(makeView({ request: { requires: ['webauthn'] }, approvable: false }));
    expect(screen.queryByTestId('approve')).toBeNull();
    expect(screen.getByTestId('not-approvable')).toHaveTextContent('needs your security key, and this app cannot use one');
    expect(screen.queryByTestId('security-key-required')).toBeNull();
    cleanup();
    show(makeView({ request: { requires: ['webauthn', 'x_custom_step' as never] }, approvable: false }));
    expect(screen.getByTestId('not-approvable')).toHaveTextContent('a step this app cannot perform yet (webauthn, x_custom_step)');
  });

  it('denies with one of the three reasons, chosen explicitly', async () => {
    const { backend, ondecided } = show(makeView());
    await fireEvent.click(screen.getByTestId('deny'));
    const group = screen.getByRole('group', { name: 'Why do you deny it?' });
    expect(within(group).getAllByRole('radio').map((r) => (r as HTMLInputElement).labels?.[0]?.textContent?.trim())).toEqual([
      'This wasn’t me',
      'Wrong details',
      'Other',
    ]);
    expect(screen.getByTestId('confirm-deny')).toBeDisabled();
    await fireEvent.click(screen.getByLabelText('This wasn’t me'));
    await fireEvent.click(screen.getByTestId('confirm-deny'));
    await vi.waitFor(() => expect(ondecided).toHaveBeenCalledOnce());
    expect(backend.calls.find((c) => c.method === 'deny')?.args).toEqual(['acct_1', 'req_01', 'not_me']);
  });

  it('shows a refused decision as text and stays on the request', async () => {
    const view = makeView({ request: { risk: 'low' } });
    const { backend, ondecided } = show(view);
    backend.fail({ code: 'expired', message: 'request "req_01" has expired; nothing was sent' });
    await fireEvent.click(screen.getByTestId('approve'));
    expect(await screen.findByTestId('decision-error')).toHaveTextContent('has expired; nothing was sent');
    expect(ondecided).not.toHaveBeenCalled();
  });

  it('closes decisions when the request was withdrawn or expired', () => {
    const { unmount } = show(makeView({ request: { risk: 'low' } }), { goneReason: 'decided_elsewhere' });
    expect(screen.getByTestId('request-gone')).toHaveTextContent('Decided on another device');
    expect(screen.getByTestId('approve')).toBeDisabled();
    expect(screen.getByTestId('deny')).toBeDisabled();
    unmount();

    show(makeView({ request: { risk: 'low', expires_at: 1_767_225_600 + 2 } }));
    expect(screen.getByTestId('approve')).toBeEnabled();
    tick(2);
    flushSync();
    expect(screen.getByTestId('request-expired')).toHaveTextContent('This request has expired');
    expect(screen.getByTestId('approve')).toBeDisabled();
  });

  it('shows fields the sender asked to hide, one click away', () => {
    show(makeView({ display: MODELS.auth0 }));
    const hidden = screen.getByText('Hidden by the sender: show it');
    expect(hidden.tagName).toBe('SUMMARY');
    expect(hidden.closest('details')).not.toHaveAttribute('open');
  });

  it('has no inline styles and labels every control', () => {
    const { container } = show(makeView({ request: { risk: 'high' } }));
    expect(container.querySelector('[style]')).toBeNull();
    for (const button of screen.getAllByRole('button')) expect(button).toHaveAccessibleName();
    for (const input of container.querySelectorAll('input')) expect(input).toHaveAccessibleName();
  });

  describe('access request', () => {
    it('shows a scope-only request as an access request: each scope with its description, unknown ones flagged', () => {
      const view = makeView({
        request: {
          authorization_details: [],
          scope: ['openid', 'calendar.read', 'files.delete'],
          scope_descriptions: { openid: 'Know who you are', 'calendar.read': 'Read your calendar' },
          audience: 'https://api.example.test/calendar',
        },
        display: { ...MODELS.mixed, details: [], display_schemas: {} },
      });
      show(view);
      const block = screen.getByTestId('access-request');
      expect(block.dataset.scopeOnly).toBe('true');
      expect(within(block).getByRole('heading', { level: 3 })).toHaveTextContent('Access request');
      expect(screen.getByTestId('scope-only-note')).toHaveTextContent('everything you approve');
      expect(screen.getByTestId('audience')).toHaveTextContent('https://api.example.test/calendar');
      const items = within(block).getAllByTestId('scope-item');
      expect(items.map((li) => li.dataset.known)).toEqual(['true', 'true', 'false']);
      expect(items[0]).toHaveTextContent('openid');
      expect(items[0]).toHaveTextContent('Know who you are');
      expect(items[1]).toHaveTextContent('Read your calendar');
      // The unknown scope is visibly flagged.
      const unknown = within(items[2] as HTMLElement).getByTestId('unknown-scope');
      expect(unknown).toBeVisible();
      expect(unknown).toHaveTextContent('Unknown scope');
      expect(within(block).getAllByTestId('unknown-scope')).toHaveLength(1);
      // No empty "What it wants to do" section.
      expect(screen.queryByRole('heading', { name: 'What it wants to do' })).toBeNull();
    });

    it('names the API of a request with details and says when there is none', () => {
      show(makeView({ request: { audience: 'https://api.example.test/trading' } }));
      expect(screen.getByTestId('access-request').dataset.scopeOnly).toBe('false');
      expect(screen.getByTestId('audience')).toHaveTextContent('https://api.example.test/trading');
      expect(screen.getByRole('heading', { name: 'What it wants to do' })).toBeInTheDocument();
      cleanup();
      show(makeView());
      expect(screen.getByTestId('audience')).toHaveTextContent('Your server itself');
    });

    it('marks control and bidi characters in descriptions, scope names and the API where they stand', () => {
      const description = 'Read your mail\u202Etxt.exe';
      const scope = 'files\u200B.delete';
      const audience = 'https://api.example.test/\u0007x';
      const view = makeView({
        request: {
          authorization_details: [],
          scope: ['mail.read', scope],
          scope_descriptions: { 'mail.read': description },
          audience,
        },
        display: { ...MODELS.mixed, details: [], display_schemas: {} },
        request_text: [
          finding('/scope_descriptions/mail.read', 'bidi_control', 'U+202E', 'RIGHT-TO-LEFT OVERRIDE', 14),
          finding('/scope/1', 'invisible_character', 'U+200B', 'ZERO WIDTH SPACE', 5),
          finding('/audience', 'control_character', 'U+0007', 'BELL', 25),
        ],
      });
      show(view);
      const block = screen.getByTestId('access-request');
      const marks = [...block.querySelectorAll('mark.char-mark')].map((m) => m.textContent);
      // In reading order: the API, then the description of mail.read, then the second scope's name.
      expect(marks).toEqual(['⟦U+0007 BELL⟧', '⟦U+202E RIGHT-TO-LEFT OVERRIDE⟧', '⟦U+200B ZERO WIDTH SPACE⟧']);
      // The raw characters never reach the page as themselves.
      expect(block.textContent).not.toMatch(/[\u202E\u200B\u0007]/);
      expect(within(block).getByTestId('scope-description')).toHaveTextContent('Read your mail⟦U+202E RIGHT-TO-LEFT OVERRIDE⟧txt.exe');
    });
  });
});

function finding(field: string, code: string, codePoint: string, name: string, at: number): RequestView['request_text'][number] {
  return {
    field,
    warnings: [
      {
        code: code as never,
        severity: 'danger',
        index: null,
        path: null,
        in_key: false,
        message: `${codePoint} ${name} at position ${at}`,
        message_characters: [],
        characters: [{ code_point: codePoint, name, position: at, utf16_offset: at }],
      },
    ],
  };
}
