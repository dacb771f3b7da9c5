// The views the app does not need for its first screen (the inbox), each in a
// chunk of its own, loaded when first shown: the start-up script is the inbox
// and the app's frame only. The request view is fetched as soon as the inbox
// has loaded, so a click on a request or a notification never waits for it.
type Loader<T> = () => Promise<T>;

/** Loads a module's default export once; a failed load is tried again at the next call. */
function once<T>(load: () => Promise<{ default: T }>): Loader<T> {
  let loading: Promise<T> | undefined;
  return () => {
    loading ??= load().then(
      (m) => m.default,
      (e: unknown) => {
        loading = undefined;
        throw e;
      },
    );
    return loading;
  };
}

export const loadRequestDetail = once(() => import('./RequestDetail.svelte'));
export const loadHistory = once(() => import('./History.svelte'));
export const loadSettings = once(() => import('./Settings.svelte'));
export const loadAccounts = once(() => import('./Accounts.svelte'));
export const loadAdmin = once(() => import('./admin/Admin.svelte'));
export const loadEnroll = once(() => import('./Enroll.svelte'));
export const loadPassphraseDialog = once(() => import('./PassphraseDialog.svelte'));
export const loadSecurityKeyDialog = once(() => import('./SecurityKeyDialog.svelte'));
