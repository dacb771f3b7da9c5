// Browser tests of the built UI (dist-browser: the real App on the FakeBackend) in
// Debian's chromium, served with the app's CSP. Run: npm run test:browser
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { calls, makeAccount, makeView, model, NOW, withServedApp } from './support.mjs';

const openApp = withServedApp();

describe('inbox → detail → decision', () => {
  it('approves a request', async () => {
    const { page, context, problems } = await openApp({
      views: [makeView({ request: { risk: 'low', binding_message: 'SHOP-1' } })],
      options: { accounts: [makeAccount()] },
    });
    await page.getByRole('button', { name: 'Review the request from Trading Agent' }).click();
    await page.getByTestId('request-detail').waitFor();
    assert.equal(await page.getByTestId('binding-message').textContent(), 'SHOP-1');
    await page.getByTestId('approve').click();
    await page.getByTestId('announcement').waitFor();
    assert.match(await page.getByTestId('announcement').textContent(), /Approved the request from Trading Agent/);
    await page.getByTestId('inbox-empty').waitFor();
    const approve = (await calls(page)).filter((c) => c.method === 'approve');
    assert.deepEqual(approve, [{ method: 'approve', args: ['acct_1', 'req_01'] }]);
    await page.getByTestId('nav-history').click();
    // The history view is loaded when first shown: wait for it, then count.
    await page.getByTestId('history-item').first().waitFor();
    assert.equal(await page.getByTestId('history-item').count(), 1);
    assert.equal(await page.getByTestId('history-decision').textContent(), 'Approved');
    assert.deepEqual(problems, []);
    await context.close();
  });

  it('denies with a reason, from the keyboard only', async () => {
    const { page, context, problems } = await openApp({
      views: [makeView({ request: { risk: 'high' } })],
      options: { accounts: [makeAccount()] },
    });
    await page.getByTestId('inbox-open').focus();
    await page.keyboard.press('Enter');
    await page.getByTestId('request-detail').waitFor();
    // Focus moves to the request's heading.
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'request-heading');
    await page.getByTestId('deny').focus();
    await page.keyboard.press('Enter');
    await page.getByTestId('deny-not_me').focus();
    await page.keyboard.press('Space');
    await page.getByTestId('confirm-deny').focus();
    // Focus is visible: a real outline is drawn on the focused control.
    const outline = await page.getByTestId('confirm-deny').evaluate((e) => getComputedStyle(e).outlineStyle);
    assert.equal(outline, 'solid');
    await page.keyboard.press('Enter');
    await page.getByTestId('announcement').waitFor();
    const deny = (await calls(page)).filter((c) => c.method === 'deny');
    assert.deepEqual(deny, [{ method: 'deny', args: ['acct_1', 'req_01', 'not_me'] }]);
    assert.deepEqual(problems, []);
    await context.close();
  });

  it('approves a high-risk request only with the code typed, which the core checks', async () => {
    const { page, context } = await openApp({
      views: [makeView({ request: { risk: 'critical', binding_message: 'PAY-77' } })],
      options: { accounts: [makeAccount()] },
    });
    await page.getByTestId('inbox-open').click();
    assert.equal(await page.getByTestId('approve').isDisabled(), true);
    await page.getByLabel(/Type the binding code to approve/).fill('PAY-7');
    await page.getByTestId('approve').click();
    await page.getByTestId('decision-error').waitFor();
    assert.match(await page.getByTestId('decision-error').textContent(), /not the binding code shown above/);
    await page.getByLabel(/Type the binding code to approve/).fill('PAY-77');
    await page.getByTestId('approve').click();
    await page.getByTestId('announcement').waitFor();
    const approve = (await calls(page)).filter((c) => c.method === 'approve');
    assert.deepEqual(approve, [
      { method: 'approve', args: ['acct_1', 'req_01', 'PAY-7'] },
      { method: 'approve', args: ['acct_1', 'req_01', 'PAY-77'] },
    ]);
    await context.close();
  });

  it('asks for a new key file passphrase in a dialog, twice and strong enough', async () => {
    const { page, context, problems } = await openApp({
      views: [],
      options: { accounts: [makeAccount()], status: { passphrase_needed: 'create' } },
    });
    const dialog = page.getByRole('dialog', { name: 'Choose a passphrase for your device keys' });
    await dialog.waitFor();
    await page.getByLabel('New passphrase').fill('too short');
    await page.getByLabel('The same passphrase again').fill('too short');
    await page.keyboard.press('Enter');
    await page.getByTestId('passphrase-error').waitFor();
    assert.match(await page.getByTestId('passphrase-error').textContent(), /at least 12 characters \(this one has 9\)/);
    await page.getByLabel('New passphrase').fill('walrus quietly orbits saffron');
    await page.getByLabel('The same passphrase again').fill('walrus quietly orbits saffron');
    await page.getByRole('button', { name: 'Use this passphrase' }).click();
    await dialog.waitFor({ state: 'detached' });
    assert.match(await page.getByTestId('announcement').textContent(), /Passphrase set/);
    assert.deepEqual(problems, []);
    await context.close();
  });

  it('says in the settings since when unverified agents are blocked, and lifts it', async () => {
    const { page, context } = await openApp({
      views: [],
      options: { accounts: [makeAccount()], unverifiedBlocks: { acct_1: { blocked: true, since: NOW - 3600 } } },
    });
    await page.getByTestId('nav-settings').click();
    await page.getByTestId('unverified-block').waitFor();
    assert.match(await page.getByTestId('unverified-block').textContent(), /Unverified agents are blocked\s+since \d{4}-/);
    await page.getByRole('button', { name: 'Allow unverified agents again' }).click();
    await page.getByTestId('unverified-block-lifted').waitFor();
    const lifted = (await calls(page)).filter((c) => c.method === 'liftUnverifiedBlock');
    assert.deepEqual(lifted, [{ method: 'liftUnverifiedBlock', args: ['acct_1'] }]);
    await context.close();
  });

  it('shows warnings prominently, before the details, with hidden characters revealed', async () => {
    const { page, context } = await openApp({
      views: [makeView({ display: model('purchase-bidi-undescribed') })],
      options: { accounts: [makeAccount()] },
    });
    assert.equal(await page.getByTestId('inbox-warnings').textContent(), '2 warnings · Danger: direction-changing characters');
    await page.getByTestId('inbox-open').click();
    const warnings = page.getByTestId('request-warnings');
    assert.equal(await warnings.isVisible(), true);
    assert.match(await warnings.textContent(), /2 warnings: read them before you decide/);
    assert.match(await warnings.textContent(), /Danger:.*RIGHT-TO-LEFT OVERRIDE/);
    const warningsBox = await warnings.boundingBox();
    const detailBox = await page.getByTestId('detail').first().boundingBox();
    assert.ok(warningsBox && detailBox && warningsBox.y < detailBox.y, 'warnings come before the details');
    const mark = page.locator('[data-path="/items/0/description"] mark');
    assert.equal(await mark.isVisible(), true);
    assert.match(await mark.textContent(), /U\+202E/);
    assert.equal(await page.getByRole('heading', { name: 'Not described by the schema' }).isVisible(), true);
    await context.close();
  });

  it('offers no approval for a request that breaks its schema', async () => {
    const { page, context } = await openApp({
      views: [makeView({ display: model('stock-trade-invalid') })],
      options: { accounts: [makeAccount()] },
    });
    await page.getByTestId('inbox-open').click();
    await page.getByTestId('request-detail').waitFor();
    assert.equal(await page.getByTestId('approve').count(), 0);
    assert.equal(await page.getByTestId('not-approvable').isVisible(), true);
    await context.close();
  });

  it('follows the system theme (light and dark)', async () => {
    const colours = {};
    for (const scheme of ['light', 'dark']) {
      const { page, context } = await openApp({ views: [makeView()] });
      await page.emulateMedia({ colorScheme: scheme });
      await page.getByTestId('inbox-item').waitFor();
      // The app follows the system through matchMedia's `change` event,
      // which arrives after emulateMedia resolves: wait for it to apply
      // (a timeout here is the app not following the system).
      await page.waitForFunction((s) => document.documentElement.dataset.theme === s, scheme, { timeout: 5000 });
      colours[scheme] = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
      await context.close();
    }
    assert.notEqual(colours.light, colours.dark);
  });
});
