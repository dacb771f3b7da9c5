import { describe, expect, it } from 'vitest';
import fixture from '../../../tests/agreement/approve.json';
import { FakeBackend } from './fake';
import type { RequestView } from './types';

// The core's answers to approvals (ui/tests/agreement/approve.json, checked against
// crates/approver/src/gate.rs by src-tauri/fake_agreement.rs): the fake must give the same.
interface Case {
  name: string;
  typed: string | null;
  code: string | null;
  view?: RequestView;
}

const cases = fixture.cases as unknown as Case[];

describe('FakeBackend agrees with the core on approvals', () => {
  it('has the cases and the core-built views', () => {
    expect(cases.length).toBeGreaterThanOrEqual(20);
    for (const c of cases) expect(c.view, c.name).toBeDefined();
  });

  it.each(cases.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    const view = c.view as RequestView;
    const backend = new FakeBackend([view], { now: () => fixture.now });
    const approval = backend.approve(view.item.account_id, view.item.request.id, c.typed ?? undefined);
    if (c.code === null) {
      await expect(approval).resolves.toMatchObject({ history: { decision: 'approve' } });
    } else {
      await expect(approval).rejects.toMatchObject({ code: c.code });
    }
  });
});
