import type { Backend } from './backend';
import type { AppInfo, ApproverRequest, BackendError } from './types';

// JSON round trip rather than structuredClone, which Safari 15.0-15.3 lack. Requests are JSON anyway.
function copy<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

export interface FakeBackendOptions {
  appInfo?: AppInfo;
  /** When set, every call rejects with this error until `succeed()` is called. */
  failWith?: BackendError;
}

/**
 * In-memory Backend for running the UI in a plain browser and for component tests.
 * It hands out copies, so callers cannot change its state by mutating results.
 */
export class FakeBackend implements Backend {
  #requests: ApproverRequest[];
  #appInfo: AppInfo;
  #failure: BackendError | undefined;

  constructor(initialRequests: readonly ApproverRequest[] = [], options: FakeBackendOptions = {}) {
    this.#requests = copy([...initialRequests]);
    this.#appInfo = options.appInfo ?? { name: 'Countersign', version: '0.0.0-fake' };
    this.#failure = options.failWith;
  }

  /** Makes every following call reject with `error`. */
  fail(error: BackendError): void {
    this.#failure = { ...error };
  }

  /** Undoes `fail`. */
  succeed(): void {
    this.#failure = undefined;
  }

  /** Replaces the pending requests. */
  setRequests(requests: readonly ApproverRequest[]): void {
    this.#requests = copy([...requests]);
  }

  async pendingRequests(): Promise<ApproverRequest[]> {
    this.#throwIfFailing();
    return copy(this.#requests);
  }

  async appInfo(): Promise<AppInfo> {
    this.#throwIfFailing();
    return { ...this.#appInfo };
  }

  #throwIfFailing(): void {
    if (this.#failure) {
      throw { ...this.#failure } satisfies BackendError;
    }
  }
}
