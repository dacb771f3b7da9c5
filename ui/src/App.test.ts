import { render, screen } from '@testing-library/svelte';
import { describe, expect, it } from 'vitest';
import App from './App.svelte';
import { FakeBackend } from './lib/backend/fake';

describe('App', () => {
  it('shows the product name, the mark and an empty inbox', async () => {
    render(App, { backend: new FakeBackend([], { appInfo: { name: 'Countersign', version: '1.2.3' } }) });

    expect(screen.getByRole('heading', { level: 1 })).toHaveTextContent('Countersign');
    expect(screen.getByRole('banner')).toContainElement(screen.getByRole('heading', { level: 1 }));
    // The mark is decorative (empty alt) and loaded from a file, never inline.
    const mark = document.querySelector('header img');
    expect(mark).toHaveAttribute('alt', '');
    expect(mark?.getAttribute('src')).toMatch(/mark\.svg$/);

    expect(screen.getByRole('main')).toContainElement(screen.getByTestId('inbox'));
    expect(await screen.findByTestId('inbox-empty')).toBeInTheDocument();
    expect(await screen.findByTestId('app-version')).toHaveTextContent('Countersign 1.2.3');
  });

  it('leaves out the version when the backend cannot tell it', async () => {
    render(App, { backend: new FakeBackend([], { failWith: { code: 'internal', message: 'down' } }) });
    await screen.findByTestId('inbox-error');
    expect(screen.queryByTestId('app-version')).not.toBeInTheDocument();
  });

  it('uses no inline style attributes', async () => {
    const { container } = render(App, { backend: new FakeBackend([]) });
    await screen.findByTestId('inbox-empty');
    expect(container.querySelector('[style]')).toBeNull();
  });
});
