// Browser scenarios for the web page, run by tests/api/web.rs:
//   node tests/web/scenarios.mjs <scenario>
// with the stack's URLs in the environment. Headless Debian Chromium driven
// by playwright-core (installed into .tools by scripts/setup.sh). Each
// scenario asserts what a person sees, saves screenshots into
// $PHOTOSYNC_SCREENSHOTS, and prints its findings as JSON on its last line.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const require = createRequire(path.join(root, '.tools', 'package.json'));
const { chromium } = require('playwright-core');

const env = process.env;
const scenario = process.argv[2];
const SYNC_TIMEOUT = 90_000;

// This machine's closed network refuses Chromium's background connections.
const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const pageErrors = [];

async function shot(page, name) {
  await page.screenshot({ path: path.join(env.PHOTOSYNC_SCREENSHOTS, `${scenario}-${name}.png`), fullPage: true });
}

async function newPage(width = 1280, options = {}) {
  const context = await browser.newContext({ viewport: { width, height: 900 }, ...options });
  const page = await context.newPage();
  page.on('pageerror', (e) => pageErrors.push(String(e)));
  // Refused requests are expected in some scenarios; script errors and CSP violations are not.
  page.on('console', (m) => { if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) pageErrors.push(m.text()); });
  return page;
}

// Opens the page; Easy Auth sends the browser to sign in; picks the account.
async function signIn(upn, { front = env.PHOTOSYNC_FRONT_URL, ready = true, name } = {}) {
  const page = await newPage();
  await page.goto(`${front}/api/photos`);
  await page.waitForURL(/\/\.auth\/login\/aad/);
  if (name) await shot(page, name);
  await page.click(`button[data-upn="${upn}"]`);
  await page.waitForURL(/\/api\/photos$/);
  if (ready) await page.waitForSelector('body[data-ready="true"]');
  return page;
}

function photo(name) {
  return path.join(env.PHOTOSYNC_PHOTOS, name);
}

// Drags files from "the desktop" onto an element, as a person would.
async function dropFiles(page, selector, files) {
  const payload = files.map((f) => ({ name: path.basename(f), data: readFileSync(f).toString('base64') }));
  const transfer = await page.evaluateHandle((list) => {
    const dt = new DataTransfer();
    for (const f of list) {
      const bytes = Uint8Array.from(atob(f.data), (c) => c.charCodeAt(0));
      dt.items.add(new File([bytes], f.name, { type: 'image/jpeg' }));
    }
    return dt;
  }, payload);
  for (const type of ['dragenter', 'dragover', 'drop']) {
    await page.dispatchEvent(selector, type, { dataTransfer: transfer });
  }
}

const count = (page, selector) => page.locator(selector).count();

async function rowsIn(page, state, n) {
  await page.waitForFunction(([s, want]) => document.querySelectorAll(`#rows li [data-state="${s}"]`).length === want,
    [state, n], { timeout: SYNC_TIMEOUT });
}

const scenarios = {
  // HR drops two photos, checks the crops, moves one focus point, uploads,
  // and watches both reach "synced".
  async uploader() {
    const page = await signIn('hr@contoso.com', { name: 'sign-in' });
    assert.equal(await page.isVisible('#report'), true, 'uploaders see the report');
    assert.equal(await page.isVisible('#review'), false, 'only approvers see the queue');
    await dropFiles(page, '#drop', [photo('bob@contoso.com.jpg'), photo('carol@contoso.com.jpg')]);
    await page.waitForFunction(() => document.querySelectorAll('#staged [data-state="ready"]').length === 2);
    // The square is the pipeline's: the landscape photo's is centred.
    const carol = page.locator('#staged li[data-file="carol@contoso.com.jpg"]');
    const square = await carol.locator('.square').boundingBox();
    const image = await carol.locator('img').boundingBox();
    assert.ok(Math.abs(square.height - image.height) < 2, 'the square is the full height');
    assert.ok(Math.abs((square.x - image.x) - (image.x + image.width - square.x - square.width)) < 3, 'and centred');
    assert.equal(await carol.locator('.for input').inputValue(), 'carol@contoso.com');
    // Drag Bob's focus point to a quarter across, 30% down.
    const bob = page.locator('#staged li[data-file="bob@contoso.com.jpg"]');
    const box = await bob.locator('img').boundingBox();
    const start = await bob.locator('.dot').boundingBox();
    await page.mouse.move(start.x + start.width / 2, start.y + start.height / 2);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width * 0.25, box.y + box.height * 0.3, { steps: 8 });
    await page.mouse.up();
    const label = await bob.locator('.dot').getAttribute('aria-label');
    assert.match(label, /25%, 30%/);
    await shot(page, 'previews');
    assert.equal(await page.textContent('#send'), 'Upload 2 photos');
    await page.click('#send');
    await page.waitForFunction(() => document.querySelectorAll('#rows li').length === 2);
    await shot(page, 'uploaded');
    await rowsIn(page, 'synced', 2);
    assert.equal(await count(page, '#staged li'), 0);
    await shot(page, 'synced');
    return { bob_focus: [0.25, 0.3] };
  },

  // Alice sends her own photo; it waits; the approver approves; she sees it synced.
  async approval() {
    const alice = await signIn('alice@contoso.com');
    assert.equal(await alice.isVisible('#report'), false, 'employees do not see the report');
    assert.equal(await alice.textContent('#upload-title'), 'Your profile photo');
    await alice.setInputFiles('#files', photo('alice-selfie.jpg'));
    await alice.waitForSelector('#staged [data-state="ready"]');
    assert.equal(await alice.textContent('#staged .for'), 'For you (alice@contoso.com)');
    await shot(alice, 'employee-preview');
    await alice.click('#send');
    await rowsIn(alice, 'pending-approval', 1);
    await shot(alice, 'employee-pending');

    const boss = await signIn('boss@contoso.com');
    await boss.waitForSelector('#pending li');
    assert.equal(await boss.textContent('#pending li .name'), 'alice@contoso.com');
    await boss.waitForFunction(() => document.querySelector('#pending li img').naturalWidth > 0);
    // Rejecting needs a reason.
    await boss.click('#pending li button.reject');
    assert.match(await boss.textContent('#pending li .message'), /Say why/);
    await shot(boss, 'approver-queue');
    await boss.click('#pending li button.approve');
    await boss.waitForSelector('#pending-empty', { state: 'visible' });
    await shot(boss, 'approver-done');

    await rowsIn(alice, 'synced', 1);
    await shot(alice, 'employee-synced');
    return {};
  },

  // Alice tries to send a photo for Bob: the page only offers her own, and a
  // request naming Bob is refused by the server.
  async 'someone-else'() {
    const alice = await signIn('alice@contoso.com');
    await dropFiles(alice, '#drop', [photo('bob@contoso.com.jpg')]);
    await alice.waitForSelector('#staged [data-state="ready"]');
    assert.equal(await alice.textContent('#staged .for'), 'For you (alice@contoso.com)', 'the file name does not choose the person');
    assert.equal(await count(alice, '#staged .for input'), 0, 'no field to name someone else');
    const bytes = readFileSync(photo('bob@contoso.com.jpg')).toString('base64');
    const forged = await alice.evaluate(async (b64) => {
      const body = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
      const send = async (headers) => {
        const r = await fetch('/api/photos/upload?for=bob%40contoso.com&name=bob.jpg', { method: 'POST', headers, body });
        return { status: r.status, body: await r.json() };
      };
      return {
        forBob: await send({ 'X-Photosync-Request': '1', 'Content-Type': 'image/jpeg' }),
        noHeader: await send({ 'Content-Type': 'image/jpeg' }),
      };
    }, bytes);
    assert.equal(forged.forBob.status, 403);
    assert.equal(forged.forBob.body.code, 'forbidden');
    assert.match(forged.forBob.body.message, /only your own photo/);
    assert.equal(forged.noHeader.status, 403);
    assert.equal(forged.noHeader.body.code, 'cross-site-request');
    await shot(alice, 'only-own');
    return {};
  },

  // No principal (Easy Auth bypassed), or a principal while the platform's
  // authentication is off: refused, with a page that says why.
  async untrusted() {
    const direct = await newPage();
    const response = await direct.goto(`${env.PHOTOSYNC_DIRECT_URL}/api/photos`);
    assert.equal(response.status(), 401);
    await direct.waitForSelector('#refusal[data-code="not-signed-in"]');
    assert.equal(await direct.textContent('#refusal h2'), 'Please sign in');
    const api = await direct.evaluate(async () => (await fetch('/api/photos/status')).status);
    assert.equal(api, 401);
    await shot(direct, 'no-principal');

    const off = await signIn('hr@contoso.com', { front: env.PHOTOSYNC_UNTRUSTED_URL, ready: false });
    await off.waitForSelector('#refusal[data-code="authentication-off"]');
    assert.match(await off.textContent('#refusal p'), /WEBSITE_AUTH_ENABLED/);
    const status = await off.evaluate(async () => {
      const r = await fetch('/api/photos/status');
      return { status: r.status, code: (await r.json()).code };
    });
    assert.deepEqual(status, { status: 403, code: 'authentication-off' });
    await shot(off, 'auth-off');
    return {};
  },

  // The uploader's report view: search, status filter, hostile names as text.
  async report() {
    const page = await signIn('hr@contoso.com');
    const rows = '#report-table tbody tr';
    await page.waitForFunction((s) => document.querySelectorAll(s).length === 4, rows);
    // Problems first; the hostile file name is text, not an element.
    assert.equal(await page.textContent(`${rows}:first-child td:first-child`), env.PHOTOSYNC_HOSTILE);
    assert.equal(await count(page, '#report-table img'), 0);
    assert.equal(await count(page, '#report-table b'), 0);
    assert.equal(await page.evaluate(() => window.pwned), undefined);
    assert.match(await page.textContent('#report-summary'), /^4 of 4 photos/);
    await shot(page, 'all');
    await page.fill('#search', 'carol');
    await page.waitForFunction((s) => document.querySelectorAll(s).length === 1, rows);
    assert.equal(await page.textContent(`${rows} td:nth-child(2)`), 'carol@contoso.com');
    await page.fill('#search', '');
    await page.waitForFunction((s) => document.querySelectorAll(s).length === 4, rows);
    await page.click('#status-filters button[data-status="failed"]');
    await page.waitForFunction((s) => document.querySelectorAll(s).length === 2, rows);
    assert.equal(await page.getAttribute('#status-filters button[data-status="failed"]', 'aria-pressed'), 'true');
    assert.match(await page.textContent(`${rows}:nth-child(2)`), /Export the photo as JPEG or PNG/);
    await shot(page, 'failed');
    await page.setViewportSize({ width: 400, height: 900 });
    await shot(page, 'narrow');
    return {};
  },

  // The Reconcile's own latest.html, opened from disk as an admin would: its
  // one script runs under the page's CSP (a blocked script would log a CSP
  // error and leave the filters hidden), filters rows, and shows times in
  // the reader's zone; at 400 px nothing is wider than the screen.
  async 'latest-html'() {
    const url = `file://${env.PHOTOSYNC_REPORT}`;
    const rows = '#photos tbody tr';
    const visible = (p) => p.evaluate((s) => [...document.querySelectorAll(s)].filter((r) => !r.hidden).length, rows);
    const page = await newPage(1280, { timezoneId: 'America/New_York', locale: 'en-US' });
    await page.goto(url);
    await page.waitForSelector('#filters:not([hidden])');
    const total = await count(page, rows);
    assert.ok(total >= 5, `${total} rows`);
    assert.equal(await page.textContent('#shown'), `${total} of ${total} shown`);
    // Changed in this run: marked, and first.
    assert.equal(await page.getAttribute(`${rows}:first-child`, 'class'), 'changed');
    // Times in the reader's zone: no longer the UTC text.
    const times = await page.$$eval('#photos time', (ts) => ts.map((t) => [t.dateTime, t.textContent]));
    assert.ok(times.length > 0);
    for (const [iso, shown] of times) {
      assert.ok(!shown.endsWith('UTC'), `${iso} shown as ${shown}`);
      const expected = new Date(iso).toLocaleString('en-US', { timeZone: 'America/New_York', dateStyle: 'medium', timeStyle: 'short' });
      assert.equal(shown, expected);
    }
    await shot(page, 'wide');
    // Search: one user's row.
    await page.fill('#q', env.PHOTOSYNC_REPORT_USER);
    await page.waitForFunction((n) => document.getElementById('shown').textContent.startsWith(`${n} of`), 1);
    assert.equal(await visible(page), 1);
    await page.fill('#q', '');
    // Status filter: only failed rows.
    await page.selectOption('#status', 'failed');
    const failed = await visible(page);
    assert.equal(failed, Number(env.PHOTOSYNC_REPORT_FAILED));
    const statuses = await page.$$eval(rows, (rs) => rs.filter((r) => !r.hidden).map((r) => r.dataset.status));
    assert.deepEqual([...new Set(statuses)], ['failed']);
    await shot(page, 'failed');

    const narrow = await newPage(400);
    await narrow.goto(url);
    await narrow.waitForSelector('#filters:not([hidden])');
    const width = await narrow.evaluate(() => document.documentElement.scrollWidth);
    assert.ok(width <= 400, `the page is ${width} px wide at 400`);
    await shot(narrow, 'narrow');
    return { total, failed };
  },
};

let findings;
try {
  const run = scenarios[scenario];
  assert.ok(run, `no scenario ${scenario}`);
  findings = await run();
  assert.deepEqual(pageErrors, [], 'the page logged errors');
} finally {
  await browser.close();
}
console.log(JSON.stringify(findings));
