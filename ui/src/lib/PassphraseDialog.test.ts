import { fireEvent, render, screen } from '@testing-library/svelte';
import { describe, expect, it, vi } from 'vitest';
import { FakeBackend } from './backend/fake';
import type { PassphrasePurpose } from './backend/types';
import PassphraseDialog from './PassphraseDialog.svelte';

const STRONG = 'walrus quietly orbits saffron';

function show(purpose: PassphrasePurpose, backend: FakeBackend) {
  const ondone = vi.fn();
  const oncancel = vi.fn();
  render(PassphraseDialog, { backend, purpose, ondone, oncancel });
  return { ondone, oncancel };
}

const submitted = (backend: FakeBackend) => backend.calls.filter((c) => c.method === 'submitKeyPassphrase').map((c) => c.args[0]);

async function type(testId: string, value: string): Promise<void> {
  await fireEvent.input(screen.getByTestId(testId), { target: { value } });
}

describe('PassphraseDialog', () => {
  it('asks for a new passphrase twice, as a modal dialog with the field focused', () => {
    show('create', new FakeBackend());
    const dialog = screen.getByRole('dialog', { name: 'Choose a passphrase for your device keys' });
    expect(dialog).toHaveAttribute('aria-modal', 'true');
    expect(screen.getByLabelText('New passphrase')).toHaveAttribute('type', 'password');
    expect(screen.getByLabelText('The same passphrase again')).toHaveAttribute('type', 'password');
    expect(screen.getByLabelText('New passphrase')).toHaveFocus();
  });

  it('refuses two different passphrases without sending either', async () => {
    const backend = new FakeBackend();
    const { ondone } = show('create', backend);
    await type('passphrase-input', STRONG);
    await type('passphrase-repeat', `${STRONG}!`);
    await fireEvent.click(screen.getByTestId('passphrase-submit'));
    expect(screen.getByTestId('passphrase-error')).toHaveTextContent('The two passphrases are not the same');
    expect(submitted(backend)).toEqual([]);
    expect(ondone).not.toHaveBeenCalled();
    expect((screen.getByTestId('passphrase-repeat') as HTMLInputElement).value).toBe('');
  });

  it('shows why a weak passphrase is refused, and accepts a strong one', async () => {
    const backend = new FakeBackend();
    const { ondone } = show('create', backend);
    await type('passphrase-input', 'Tr0ub4dor&3');
    await type('passphrase-repeat', 'Tr0ub4dor&3');
    await fireEvent.click(screen.getByTestId('passphrase-submit'));
    expect(await screen.findByTestId('passphrase-error')).toHaveTextContent(
      'Choose a stronger passphrase: use at least 12 characters (this one has 11)',
    );
    await type('passphrase-input', 'password1234');
    await type('passphrase-repeat', 'password1234');
    await fireEvent.click(screen.getByTestId('passphrase-submit'));
    await vi.waitFor(() =>
      expect(screen.getByTestId('passphrase-error')).toHaveTextContent('Choose a stronger passphrase: it would be too easy to guess'),
    );
    expect(ondone).not.toHaveBeenCalled();

    await type('passphrase-input', STRONG);
    await type('passphrase-repeat', STRONG);
    await fireEvent.click(screen.getByTestId('passphrase-submit'));
    await vi.waitFor(() => expect(ondone).toHaveBeenCalledWith('create'));
    expect(submitted(backend)).toEqual(['Tr0ub4dor&3', 'password1234', STRONG]);
    // Nothing of it stays in the form.
    expect((screen.getByTestId('passphrase-input') as HTMLInputElement).value).toBe('');
    expect((screen.getByTestId('passphrase-repeat') as HTMLInputElement).value).toBe('');
    expect(document.body.textContent).not.toContain(STRONG);
  });

  it('opens the key file with the right passphrase and says so when it is wrong', async () => {
    const backend = new FakeBackend([], { keyFilePassphrase: STRONG });
    const { ondone } = show('open', backend);
    expect(screen.getByRole('dialog', { name: 'Unlock your device keys' })).toBeInTheDocument();
    expect(screen.queryByTestId('passphrase-repeat')).toBeNull();
    await type('passphrase-input', 'walrus quietly orbits cumin');
    await fireEvent.click(screen.getByRole('button', { name: 'Unlock' }));
    expect(await screen.findByTestId('passphrase-error')).toHaveTextContent(
      'This passphrase does not open the key file. Check it and try again.',
    );
    expect((screen.getByTestId('passphrase-input') as HTMLInputElement).value).toBe('');
    expect(ondone).not.toHaveBeenCalled();
    await type('passphrase-input', STRONG);
    await fireEvent.click(screen.getByRole('button', { name: 'Unlock' }));
    await vi.waitFor(() => expect(ondone).toHaveBeenCalledWith('open'));
  });

  it('asks for something before sending, and can be closed', async () => {
    const backend = new FakeBackend();
    const { oncancel } = show('open', backend);
    await fireEvent.click(screen.getByRole('button', { name: 'Unlock' }));
    expect(screen.getByTestId('passphrase-error')).toHaveTextContent('Type the passphrase.');
    expect(submitted(backend)).toEqual([]);
    await fireEvent.click(screen.getByRole('button', { name: 'Not now' }));
    await vi.waitFor(() => expect(oncancel).toHaveBeenCalledOnce());
    expect(backend.calls.map((c) => c.method)).toEqual(['cancelKeyPassphrase']);
  });
});
