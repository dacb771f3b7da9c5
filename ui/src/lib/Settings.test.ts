import { fireEvent, render, screen } from '@testing-library/svelte';
import { createRawSnippet } from 'svelte';
import { describe, expect, it, vi } from 'vitest';
import { FakeBackend } from './backend/fake';
import Settings from './Settings.svelte';

const NOW = 1_767_225_600;
const accountsSection = createRawSnippet(() => ({ render: () => '<p data-testid="accounts-slot">accounts</p>' }));

describe('Settings', () => {
  it('shows the accounts section and the current settings', async () => {
    const backend = new FakeBackend([], { now: () => NOW, settings: { start_at_login: true } });
    render(Settings, { backend, accountsSection });
    expect(screen.getByTestId('accounts-slot')).toBeInTheDocument();
    expect(await screen.findByLabelText('Show a notification for each new request')).toBeChecked();
    expect(screen.getByLabelText('Offer Approve and Deny in notifications')).toBeChecked();
    expect(screen.getByLabelText('Same as the system')).toBeChecked();
    expect(screen.getByLabelText(/Start Countersign when I log in/)).toBeChecked();
  });

  it('changes one setting at a time and applies the theme at once', async () => {
    const backend = new FakeBackend([], { now: () => NOW });
    render(Settings, { backend, accountsSection });
    await fireEvent.click(await screen.findByLabelText('Dark'));
    await vi.waitFor(() => expect(document.documentElement.dataset.theme).toBe('dark'));
    expect(backend.calls.filter((c) => c.method === 'updateSettings').map((c) => c.args[0])).toEqual([{ theme: 'dark' }]);

    await fireEvent.click(screen.getByLabelText('Show a notification for each new request'));
    await vi.waitFor(() => expect(screen.getByLabelText('Offer Approve and Deny in notifications')).toBeDisabled());

    await fireEvent.click(screen.getByLabelText(/Start Countersign when I log in/));
    await vi.waitFor(() => expect(screen.getByLabelText(/Start Countersign when I log in/)).toBeChecked());
  });

  it('pauses and resumes notifications', async () => {
    const backend = new FakeBackend([], { now: () => NOW });
    render(Settings, { backend, accountsSection });
    await fireEvent.click(await screen.findByRole('button', { name: 'Pause notifications for 1 hour' }));
    expect(await screen.findByTestId('notifications-pause')).toHaveTextContent('Paused until');
    await fireEvent.click(screen.getByRole('button', { name: 'Resume notifications' }));
    expect(await screen.findByRole('button', { name: 'Pause notifications for 1 hour' })).toBeInTheDocument();
  });

  it('shows problems, and a refused change leaves the page showing what really is', async () => {
    const backend = new FakeBackend([], {
      now: () => NOW,
      settings: { start_at_login: null, problems: ['cannot read whether Countersign starts at login: no home'] },
    });
    render(Settings, { backend, accountsSection });
    expect(await screen.findByTestId('settings-problems')).toHaveTextContent('no home');
    expect(screen.getByLabelText(/Start Countersign when I log in/)).toBeDisabled();

    backend.fail({ code: 'settings', message: 'cannot save desktop-settings.json: read-only' });
    await fireEvent.click(screen.getByLabelText('Light'));
    expect(await screen.findByTestId('settings-error')).toHaveTextContent('read-only');
    await vi.waitFor(() => expect(screen.getByLabelText('Same as the system')).toBeChecked());
    expect(screen.getByLabelText('Light')).not.toBeChecked();
    backend.succeed();
  });
});
