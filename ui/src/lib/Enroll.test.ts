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
    expect(screen.getByTestId('enroll-user')).toHaveTextContent('Demo User (u_demo)');
    expect(screen.queryByTestId('enroll-plain-http')).toBeNull();
    expect(backend.calls.map((c) => c.method)).toEqual(['enrollPreview']);

    await fireEvent.click(screen.getByRole('button', { name: 'Enroll this device' }));
    await vi.waitFor(() => expect(onenrolled).toHaveBeenCalledOnce());
    expect(backend.calls.map((c) => c.method)).toEqual(['enrollPreview', 'enroll']);
    expect(backend.calls[1]?.args).toEqual([LINK]);
    expect(onenrolled.mock.calls[0]?.[0]).toMatchObject({ replaced: false, account: { user: { name: 'Demo User' } } });
  });

  it('fills in a handed-over link but contacts nothing until Check link, and enrolls only on confirmation', async () => {
    const backend = new FakeBackend();
    const onenrolled = vi.fn();
    render(Enroll, { backend, onenrolled, initialLink: LINK });
    expect(await screen.findByTestId('enroll-handed-over')).toHaveTextContent('Nothing has been sent yet');
    expect(screen.getByLabelText('Enrollment link')).toHaveValue(LINK);
    expect(backend.calls).toEqual([]);
    await fireEvent.click(screen.getByRole('button', { name: 'Check link' }));
    expect(await screen.findByTestId('enroll-preview')).toBeInTheDocument();
    expect(backend.calls.map((c) => c.method)).toEqual(['enrollPreview']);
    expect(onenrolled).not.toHaveBeenCalled();
  });

  it('keeps the link fixed while its server is asked', async () => {
    const backend = new FakeBackend();
    let release: () => void = () => {};
    const slow = new Promise<void>((resolve) => (release = resolve));
    const original = backend.enrollPreview.bind(backend);
    backend.enrollPreview = async (link: string) => {
      await slow;
      return original(link);
    };
    render(Enroll, { backend, onenrolled: () => {} });
    const input = screen.getByLabelText('Enrollment link');
    await fireEvent.input(input, { target: { value: LINK } });
    await fireEvent.click(screen.getByRole('button', { name: 'Check link' }));
    expect(input).toHaveAttribute('readonly');
    expect(screen.getByRole('button', { name: 'Check link' })).toBeDisabled();
    release();
    expect(await screen.findByTestId('enroll-server')).toHaveTextContent('https://auth.example.com');
    expect(input).not.toHaveAttribute('readonly');
  });

  it('reads the link from a QR code image and previews it', async () => {
    const backend = new FakeBackend();
    render(Enroll, { backend, onenrolled: () => {} });
    const file = new File([LINK], 'qr.png', { type: 'image/png' });
    await fireEvent.change(screen.getByLabelText(/QR code image/), { target: { files: [file] } });
    expect(await screen.findByTestId('enroll-server')).toHaveTextContent('https://auth.example.com');
    expect(backend.calls.map((c) => c.method)).toEqual(['decodeQrImage', 'enrollPreview']);
  });

  it('says why a QR code image was refused, and refuses huge files before reading them', async () => {
    const backend = new FakeBackend();
    render(Enroll, { backend, onenrolled: () => {} });
    const input = screen.getByLabelText(/QR code image/);
    await fireEvent.change(input, { target: { files: [new File(['\x89PNG'], 'cat.png', { type: 'image/png' })] } });
    expect(await screen.findByTestId('enroll-error')).toHaveTextContent('no QR code was found in the image');
    const huge = new File(['x'], 'huge.png', { type: 'image/png' });
    Object.defineProperty(huge, 'size', { value: 10 * 1024 * 1024 + 1 });
    await fireEvent.change(input, { target: { files: [huge] } });
    expect(await screen.findByTestId('enroll-error')).toHaveTextContent('larger than 10 MiB');
    expect(backend.calls.filter((c) => c.method === 'decodeQrImage')).toHaveLength(1);
  });

  it('re-enrolls: says which account, and passes it along', async () => {
    const backend = new FakeBackend();
    const first = await backend.enroll(LINK);
    const [replacing] = await backend.accounts();
    const onenrolled = vi.fn();
    render(Enroll, { backend, onenrolled, replacing });
    expect(screen.getByRole('heading', { name: 'Re-enroll an account' })).toBeInTheDocument();
    expect(screen.getByTestId('enroll-replacing')).toHaveTextContent('Demo User');
    await fireEvent.input(screen.getByLabelText('Enrollment link'), { target: { value: LINK } });
    await fireEvent.click(screen.getByRole('button', { name: 'Check link' }));
    await fireEvent.click(await screen.findByRole('button', { name: 'Enroll this device' }));
    await vi.waitFor(() => expect(onenrolled).toHaveBeenCalledOnce());
    expect(backend.calls.at(-1)?.args).toEqual([LINK, first.account.id]);
    expect(onenrolled.mock.calls[0]?.[0]).toMatchObject({ replaced: true });
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
