import { fireEvent, render, screen, within } from '@testing-library/svelte';
import { describe, expect, it } from 'vitest';
import { makeHistory } from '../../tests/fixtures';
import { FakeBackend } from './backend/fake';
import History from './History.svelte';
import { makeRequest } from '../../tests/fixtures';
import { SPOOFED_NAME, SPOOFED_NAME_FINDINGS } from '../../tests/spoof';

describe('History', () => {
  it('lists decisions with outcome, reason, agent, code and delivery', async () => {
    const backend = new FakeBackend([], {
      history: [makeHistory({ id: 2, request_id: 'r2', decision: 'deny', deny_reason: 'not_me', delivery: 'queued' }), makeHistory()],
    });
    render(History, { backend });
    const items = await screen.findAllByTestId('history-item');
    expect(items.map((i) => within(i).getByTestId('history-decision').textContent)).toEqual(['Denied', 'Approved']);
    expect(items[0]).toHaveTextContent('(This wasn’t me)');
    expect(items[0]).toHaveTextContent('Waiting to be sent');
    expect(items[1]).toHaveTextContent('Mail Agent · code OLD-1');
    expect(items[1]).toHaveTextContent('Delivered');
  });

  it('reveals a bidi control in the agent name of a decided request', async () => {
    const request = makeRequest({ id: 'req_old', client: { client_id: 'c', client_name: SPOOFED_NAME, verified: false } });
    const backend = new FakeBackend([], { history: [makeHistory({ request, request_text: SPOOFED_NAME_FINDINGS })] });
    render(History, { backend });
    const [item] = await screen.findAllByTestId('history-item');
    expect(item?.querySelector('mark')).toHaveTextContent('U+202E RIGHT-TO-LEFT OVERRIDE');
    expect(item?.textContent).not.toContain('\u202e');
  });

  it('verifies a receipt and says plainly when it does not verify', async () => {
    const backend = new FakeBackend([], {
      history: [makeHistory(), makeHistory({ id: 2, request_id: 'bad', decision_jws: 'tampered' })],
    });
    render(History, { backend });
    const [good, bad] = (await screen.findAllByTestId('history-item')) as [HTMLElement, HTMLElement];
    await fireEvent.click(within(good).getByRole('button', { name: 'Verify the receipt of request req_old' }));
    expect(await within(good).findByTestId('verify-result')).toHaveTextContent('Receipt valid');
    await fireEvent.click(within(bad).getByTestId('verify'));
    const result = await within(bad).findByTestId('verify-result');
    expect(result).toHaveTextContent('Receipt does not verify.');
    expect(result).toHaveAttribute('role', 'alert');
  });

  it('exports and says where the file went', async () => {
    const backend = new FakeBackend([], { history: [makeHistory()], now: () => 42 });
    render(History, { backend });
    await screen.findAllByTestId('history-item');
    await fireEvent.click(screen.getByRole('button', { name: 'Export as JSON' }));
    expect(await screen.findByTestId('export-result')).toHaveTextContent(
      'Exported 1 decision to /home/user/Downloads/countersign-history-42.json',
    );
  });

  it('has nothing to export when empty', async () => {
    render(History, { backend: new FakeBackend() });
    expect(await screen.findByTestId('history-empty')).toBeInTheDocument();
    expect(screen.getByRole('button', { name: 'Export as JSON' })).toBeDisabled();
  });
});
