import { fireEvent, render, screen } from '@testing-library/svelte';
import { describe, expect, it, vi } from 'vitest';
import { FakeBackend } from './backend/fake';
import Enroll from './Enroll.svelte';

const LINK = 'countersign://enroll?issuer=https%3A%2F%2Fauth.example.com&ticket=t';

describe('Enroll', () => {
  it('shows the server before anything is sent, then enrolls on confirmation', async () => {
    const backend = new FakeBackend();
    const onenrolled = vi.fn();
    render(Enroll, { backend, onenrolled });

    const check = screen.getByRole('button', { name: 'Check link' });
    expect(check).toBeDisabled();
    await fireEvent.input(screen.getByLabelText('Enrollment link'), { target: { value: LINK } });
    await fireEvent.click(check);

    expect(await screen.findByTestId('enroll-server')).toHaveTextContent('https://auth.example.com');
    expect(screen.queryByTestId('enroll-plain-http')).toBeNull();
    expect(backend.calls.map((c) => c.method)).toEqual(['enrollPreview']);

    await fireEvent.click(screen.getByRole('button', { name: 'Enroll this device' }));
    await vi.waitFor(() => expect(onenrolled).toHaveBeenCalledOnce());
    expect(backend.calls.map((c) => c.method)).toEqual(['enrollPreview', 'enroll']);
    expect(backend.calls[1]?.args).toEqual([LINK]);
  });

  it('warns about plain http and drops the preview when the link changes', async () => {
    render(Enroll, { backend: new FakeBackend(), onenrolled: () => {} });
    const input = screen.getByLabelText('Enrollment link');
    await fireEvent.input(input, { target: { value: 'countersign://enroll?issuer=http%3A%2F%2F127.0.0.1%3A9&ticket=t' } });
    await fireEvent.click(screen.getByRole('button', { name: 'Check link' }));
    expect(await screen.findByTestId('enroll-plain-http')).toHaveTextContent('Not encrypted');
    await fireEvent.input(input, { target: { value: LINK + 'x' } });
    expect(screen.queryByTestId('enroll-preview')).toBeNull();
  });

  it('shows refusals as text', async () => {
    const backend = new FakeBackend();
    render(Enroll, { backend, onenrolled: () => {} });
    await fireEvent.input(screen.getByLabelText('Enrollment link'), { target: { value: '<img src=x onerror=alert(1)>' } });
    await fireEvent.click(screen.getByRole('button', { name: 'Check link' }));
    expect(await screen.findByTestId('enroll-error')).toHaveTextContent('not a Countersign enrollment link');
    expect(document.querySelector('img')).toBeNull();
  });
});
