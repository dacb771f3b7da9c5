import { fireEvent, render, screen } from '@testing-library/svelte';
import { describe, expect, it, vi } from 'vitest';
import { makeAccount } from '../../tests/fixtures';
import App from '../App.svelte';
import { FakeBackend } from './backend/fake';

// The history view's chunk cannot be loaded (as a file missing from the app).
vi.mock('./History.svelte', () => {
  throw new Error('the history view is missing');
});

describe('a view loaded when first shown', () => {
  it('says in place that it could not be loaded, and the rest of the app still works', async () => {
    render(App, { backend: new FakeBackend([], { accounts: [makeAccount()] }) });
    await screen.findByTestId('inbox-empty');
    await fireEvent.click(screen.getByTestId('nav-history'));
    const error = await screen.findByTestId('view-error');
    expect(error).toHaveTextContent('This view could not be loaded.');
    expect(error).toHaveAttribute('role', 'alert');
    expect(screen.queryByTestId('view-loading')).toBeNull();
    // The rest of the app still works.
    await fireEvent.click(screen.getByTestId('nav-inbox'));
    expect(await screen.findByTestId('inbox-empty')).toBeInTheDocument();
    await fireEvent.click(screen.getByTestId('nav-history'));
    expect(await screen.findByTestId('view-error')).toHaveTextContent('This view could not be loaded.');
  });
});
