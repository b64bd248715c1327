// Tessera's pages in a real browser (Debian's Chromium, driven by playwright-core).
// Run by tests/it/e2e.rs, which starts Tessera and creates the accounts; this
// script exits non-zero on the first failed check.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { chromium } from 'playwright-core';

const BASE = process.env.TESSERA_BASE;
const PASSWORD = process.env.TESSERA_PASSWORD;
const SHOTS = process.env.TESSERA_SHOTS;
const REDIRECT = 'http://127.0.0.1:9/cb';
mkdirSync(SHOTS, { recursive: true });

const b64url = (buf) => buf.toString('base64').replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
const step = (name) => console.log(`e2e: ${name}`);

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
         '--disable-component-update', '--disable-sync'],
});

async function signIn(username, viewport) {
  const ctx = await browser.newContext({ viewport });
  // The app's redirect URI is not served by anyone: answer it here and remember the URL.
  await ctx.route('http://127.0.0.1:9/**', (route) => route.fulfill({ status: 200, contentType: 'text/html', body: '<p>app callback</p>' }));
  const page = await ctx.newPage();
  await page.goto(`${BASE}/login`);
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(`${BASE}/account`);
  return { ctx, page };
}

try {
  // 1. A developer registers an app in the portal and sees its secret once.
  step('developer registers an app');
  const dev = await signIn(process.env.TESSERA_DEV, { width: 1280, height: 900 });
  await dev.page.getByRole('link', { name: 'Developer portal' }).click();
  await dev.page.getByLabel('Name', { exact: true }).fill('Acme Sync');
  await dev.page.getByLabel(/^Description/).fill('Keeps your data in sync with Acme.');
  await dev.page.getByLabel(/Confidential/).check();
  await dev.page.getByLabel(/^Redirect URIs/).fill(REDIRECT);
  for (const s of ['openid', 'read:data', 'write:data']) {
    await dev.page.locator(`input[name="scope"][value="${s}"]`).check();
  }
  await dev.page.getByRole('button', { name: 'Register app' }).click();
  const clientId = (await dev.page.locator('#client-id').textContent()).trim();
  const secret = (await dev.page.locator('#client-secret').textContent()).trim();
  assert.match(secret, /^tsr_[0-9A-Za-z]{49}$/, 'a secret shaped for secret scanners (docs/secrets.md)');
  await dev.page.goto(`${BASE}/portal`);
  assert.ok(await dev.page.getByRole('link', { name: 'Acme Sync' }).isVisible());
  await dev.page.screenshot({ path: `${SHOTS}/portal.png`, fullPage: true });
  await dev.page.goto(`${BASE}/portal/apps/${clientId}`);
  assert.equal(await dev.page.locator('#client-secret').count(), 0, 'the secret is shown only once');

  // 2. A user authorizes it through login and consent (on a phone-sized screen).
  step('user logs in and consents');
  const verifier = b64url(randomBytes(32));
  const challenge = b64url(createHash('sha256').update(verifier).digest());
  const state = b64url(randomBytes(12));
  const authorize = `${BASE}/authorize?` + new URLSearchParams({
    response_type: 'code', client_id: clientId, redirect_uri: REDIRECT, scope: 'openid read:data write:data',
    state, code_challenge: challenge, code_challenge_method: 'S256',
  });
  const userCtx = await browser.newContext({ viewport: { width: 390, height: 844 } });
  await userCtx.route('http://127.0.0.1:9/**', (route) => route.fulfill({ status: 200, contentType: 'text/html', body: '<p>app callback</p>' }));
  const up = await userCtx.newPage();
  await up.goto(authorize);
  assert.ok((await up.textContent('body')).includes('to continue to Acme Sync'));
  await up.getByLabel('Username').fill(process.env.TESSERA_USER);
  await up.getByLabel('Password').fill(PASSWORD);
  await up.getByRole('button', { name: 'Sign in' }).click();
  await up.getByRole('heading', { name: /wants access to your account/ }).waitFor();
  const consentText = await up.textContent('main');
  assert.ok(consentText.includes('Read your data') && consentText.includes('write:data'), 'each scope with its description');
  await up.screenshot({ path: `${SHOTS}/consent.png`, fullPage: true });
  await up.getByRole('button', { name: 'Allow' }).click();
  await up.waitForURL((u) => u.toString().startsWith(REDIRECT));
  const cb = new URL(up.url());
  assert.equal(cb.searchParams.get('state'), state);
  assert.equal(cb.searchParams.get('iss'), BASE);
  const code = cb.searchParams.get('code');

  // The app exchanges the code.
  const basic = 'Basic ' + Buffer.from(`${clientId}:${secret}`).toString('base64');
  const form = (o) => ({ method: 'POST', headers: { authorization: basic, 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(o) });
  let r = await fetch(`${BASE}/token`, form({ grant_type: 'authorization_code', code, redirect_uri: REDIRECT, code_verifier: verifier }));
  assert.equal(r.status, 200);
  const tokens = await r.json();
  assert.ok(tokens.refresh_token && tokens.id_token);
  // The developer's app page draws the day's token in its chart.
  await dev.page.goto(`${BASE}/portal/apps/${clientId}`);
  const chart = dev.page.getByRole('img', { name: /Last 30 days: 1 tokens issued/ });
  await chart.waitFor();
  await dev.page.screenshot({ path: `${SHOTS}/portal-app.png`, fullPage: true });

  // 3. The user sees it under connected apps, with its scopes, and revokes it.
  step('user sees and revokes the app');
  await up.goto(`${BASE}/account`);
  const row = up.getByRole('row', { name: /Acme Sync/ });
  await row.waitFor();
  const rowText = await row.textContent();
  assert.ok(rowText.includes('read:data') && rowText.includes('write:data') && rowText.includes('openid'));
  await up.screenshot({ path: `${SHOTS}/connected-apps.png`, fullPage: true });
  // This user is on a phone, where the table's header is hidden: each date
  // says what it is. On a wide screen the column headers say it instead.
  assert.ok(await row.getByText('Last used').isVisible(), 'the date is labelled on a narrow screen');
  assert.ok(await row.getByText('Granted').isVisible());
  const phone = up.viewportSize();
  await up.setViewportSize({ width: 1280, height: 800 });
  assert.ok(!(await row.getByText('Last used').isVisible()), 'the column header says it on a wide screen');
  await up.setViewportSize(phone);
  await up.getByRole('button', { name: 'Revoke access of Acme Sync' }).click();
  await up.getByText('Access revoked.').waitFor();
  assert.ok((await up.textContent('main')).includes('No app has access to your account.'));

  // 4. The app's refresh token is refused.
  r = await fetch(`${BASE}/token`, form({ grant_type: 'refresh_token', refresh_token: tokens.refresh_token }));
  assert.equal(r.status, 400);
  assert.equal((await r.json()).error, 'invalid_grant');

  // 5. Another developer cannot see the app.
  step('isolation, roles and CSRF');
  const other = await signIn(process.env.TESSERA_OTHER_DEV, { width: 1280, height: 900 });
  let resp = await other.page.goto(`${BASE}/portal/apps/${clientId}`);
  assert.equal(resp.status(), 404);
  await other.page.goto(`${BASE}/portal`);
  assert.equal(await other.page.getByRole('link', { name: 'Acme Sync' }).count(), 0);

  // 6. A non-admin gets 403 on the admin console.
  resp = await up.goto(`${BASE}/admin`);
  assert.equal(resp.status(), 403);

  // 7. A form post without a CSRF token is refused, even with the browser's session cookie.
  // (The page's CSP forbids scripts from fetching at all; the context's request API carries the cookies.)
  const forged = await dev.ctx.request.post(`${BASE}/portal/apps`, {
    form: { name: 'Forged', client_type: 'public', scope: 'read:data', redirect_uris: 'https://x.example/cb' },
    maxRedirects: 0,
  });
  assert.equal(forged.status(), 403);
  await dev.page.goto(`${BASE}/portal`);
  assert.equal(await dev.page.getByRole('link', { name: 'Forged' }).count(), 0);

  // 8. A TV (RFC 8628): it shows a code; a person on a phone opens the link,
  // signs in, confirms the pre-filled code, sees the app, allows; the TV's
  // next poll gets tokens.
  step('device flow on a phone');
  const tv = process.env.TESSERA_DEVICE_CLIENT;
  const publicForm = (o) => ({ method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(o) });
  r = await fetch(`${BASE}/device_authorization`, publicForm({ client_id: tv, scope: 'openid read:data' }));
  assert.equal(r.status, 200);
  const dev8628 = await r.json();
  const poll = () => fetch(`${BASE}/token`, publicForm({ grant_type: 'urn:ietf:params:oauth:grant-type:device_code', device_code: dev8628.device_code, client_id: tv }));
  r = await poll();
  assert.equal((await r.json()).error, 'authorization_pending');
  const phoneCtx = await browser.newContext({ viewport: { width: 390, height: 844 } });
  const phonePage = await phoneCtx.newPage();
  await phonePage.goto(dev8628.verification_uri_complete);
  await phonePage.getByLabel('Username').fill(process.env.TESSERA_USER);
  await phonePage.getByLabel('Password').fill(PASSWORD);
  await phonePage.getByRole('button', { name: 'Sign in' }).click();
  await phonePage.getByRole('heading', { name: 'Connect a device' }).waitFor();
  assert.equal(await phonePage.getByLabel('Code').inputValue(), dev8628.user_code, 'the link pre-fills the code');
  await phonePage.getByRole('button', { name: 'Continue' }).click();
  await phonePage.getByText('Living-room TV').first().waitFor();
  assert.ok((await phonePage.textContent('main')).includes(dev8628.user_code), 'the consent screen repeats the code');
  await phonePage.screenshot({ path: `${SHOTS}/device-consent.png`, fullPage: true });
  await phonePage.getByRole('button', { name: 'Allow' }).click();
  await phonePage.getByRole('heading', { name: 'Device connected' }).waitFor();
  r = await poll();
  assert.equal(r.status, 200);
  const tvTokens = await r.json();
  assert.ok(tvTokens.access_token && tvTokens.refresh_token && tvTokens.id_token);

  // 9. Someone signs up as a developer from the login page; an admin
  // approves; the portal opens to them.
  step('developer sign-up and approval');
  const newcomer = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const np = await newcomer.newPage();
  await np.goto(`${BASE}/login`);
  await np.getByRole('link', { name: 'Create a developer account' }).click();
  await np.getByLabel('Username').fill('newdev');
  await np.getByLabel('Email').fill('newdev@example.com');
  await np.getByLabel('Password').fill(PASSWORD);
  await np.screenshot({ path: `${SHOTS}/signup.png`, fullPage: true });
  await np.getByRole('button', { name: 'Create account' }).click();
  await np.waitForURL(`${BASE}/account`);
  await np.getByText("waits for an admin's approval").waitFor();
  assert.equal(await np.getByRole('link', { name: 'Developer portal' }).count(), 0);
  const admin = await signIn(process.env.TESSERA_ADMIN, { width: 1280, height: 900 });
  await admin.page.goto(`${BASE}/admin`);
  await admin.page.getByRole('button', { name: 'Approve newdev as a developer' }).click();
  await admin.page.getByText('newdev is developer.').waitFor();
  await np.reload();
  await np.getByRole('link', { name: 'Developer portal' }).click();
  await np.waitForURL(`${BASE}/portal`);

  console.log('e2e: all checks passed');
} finally {
  await browser.close();
}
