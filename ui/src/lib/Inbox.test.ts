import { render, screen, within } from '@testing-library/svelte';
import { describe, expect, it, vi } from 'vitest';
import { makeRequest } from '../../tests/fixtures';
import type { Backend } from './backend/backend';
import { FakeBackend } from './backend/fake';
import Inbox from './Inbox.svelte';

describe('Inbox', () => {
  it('shows loading, then the empty state when nothing is pending', async () => {
    render(Inbox, { backend: new FakeBackend([]) });

    const inbox = screen.getByTestId('inbox');
    expect(screen.getByTestId('inbox-loading')).toBeInTheDocument();
    expect(inbox).toHaveAttribute('aria-busy', 'true');

    const empty = await screen.findByTestId('inbox-empty');
    expect(empty).toHaveTextContent('No requests waiting');
    expect(empty).toHaveTextContent(/AI agents/);
    expect(screen.queryByTestId('inbox-loading')).not.toBeInTheDocument();
    expect(screen.queryByTestId('inbox-list')).not.toBeInTheDocument();
    expect(inbox).toHaveAttribute('aria-busy', 'false');
  });

  it('is a region labelled by its heading', async () => {
    render(Inbox, { backend: new FakeBackend([]) });
    const region = screen.getByRole('region', { name: 'Inbox' });
    expect(region).toBe(screen.getByTestId('inbox'));
    await screen.findByTestId('inbox-empty');
  });

  it('stays in the loading state while the backend has not answered', () => {
    const backend: Backend = {
      pendingRequests: () => new Promise(() => {}),
      appInfo: () => new Promise(() => {}),
    };
    render(Inbox, { backend });
    expect(screen.getByTestId('inbox-loading')).toHaveAttribute('role', 'status');
    expect(screen.queryByTestId('inbox-empty')).not.toBeInTheDocument();
  });

  it('shows the backend error message as text', async () => {
    const backend = new FakeBackend([], {
      failWith: { code: 'store_unavailable', message: 'The local store is locked <b>now</b>.' },
    });
    render(Inbox, { backend });

    const error = await screen.findByTestId('inbox-error');
    expect(error).toHaveAttribute('role', 'alert');
    expect(error).toHaveTextContent('The local store is locked <b>now</b>.');
    expect(error.querySelector('b')).toBeNull();
    expect(screen.queryByTestId('inbox-empty')).not.toBeInTheDocument();
  });

  it('shows a generic message when the backend rejects with something odd', async () => {
    const backend: Backend = {
      pendingRequests: () => Promise.reject(new Map()),
      appInfo: () => Promise.reject(new Map()),
    };
    render(Inbox, { backend });
    const error = await screen.findByTestId('inbox-error');
    expect(error).toHaveTextContent('Something went wrong in the app backend.');
  });

  it('lists each request with client name, binding message and a risk badge in words', async () => {
    const backend = new FakeBackend([
      makeRequest({ id: 'a', risk: 'low' }),
      makeRequest({
        id: 'b',
        client: { client_id: 'mailer', client_name: 'Mail Assistant', verified: false },
        binding_message: 'Send 3 emails to finance',
        risk: 'critical',
      }),
    ]);
    render(Inbox, { backend });

    const list = await screen.findByTestId('inbox-list');
    expect(list.tagName).toBe('UL');
    const items = within(list).getAllByTestId('inbox-item');
    expect(items).toHaveLength(2);

    const [first, second] = items as [HTMLElement, HTMLElement];
    expect(within(first).getByRole('heading', { level: 3 })).toHaveTextContent('Trading Agent');
    expect(first).toHaveTextContent('Buy 10 ACME at market');
    expect(within(first).getByTestId('risk-badge')).toHaveTextContent('Low risk');

    expect(within(second).getByRole('heading', { level: 3 })).toHaveTextContent('Mail Assistant');
    expect(second).toHaveTextContent('Send 3 emails to finance');
    expect(within(second).getByTestId('risk-badge')).toHaveTextContent('Critical risk');
  });

  it('renders markup in request fields as literal text, never as elements', async () => {
    const alert = vi.spyOn(window, 'alert').mockImplementation(() => {});
    const imgPayload = '<img src=x onerror=alert(1)>';
    const scriptPayload = '<script>alert("pwned")</script>';
    const backend = new FakeBackend([
      makeRequest({
        id: 'evil',
        client: { client_id: 'evil', client_name: `${imgPayload}${scriptPayload}`, verified: false },
        binding_message: `${scriptPayload} then ${imgPayload}`,
      }),
    ]);
    const { container } = render(Inbox, { backend });

    const item = await screen.findByTestId('inbox-item');
    expect(within(item).getByRole('heading', { level: 3 }).textContent).toBe(`${imgPayload}${scriptPayload}`);
    expect(within(item).getByText(`${scriptPayload} then ${imgPayload}`)).toBeInTheDocument();

    expect(container.querySelector('img')).toBeNull();
    expect(container.querySelector('script')).toBeNull();
    expect(document.querySelector('img, script')).toBeNull();
    expect(container.querySelector('[onerror]')).toBeNull();
    expect(alert).not.toHaveBeenCalled();
  });

  it('spells out a risk level it does not know instead of hiding it', async () => {
    const backend = new FakeBackend([
      // A newer server could send a level this build does not know.
      makeRequest({ risk: 'extreme' as never }),
    ]);
    render(Inbox, { backend });
    const badge = await screen.findByTestId('risk-badge');
    expect(badge).toHaveTextContent('Unknown risk (extreme)');
  });
});
