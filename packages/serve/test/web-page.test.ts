import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser } from 'playwright-core';
import { decode } from 'fast-png';
import type { FastifyInstance } from 'fastify';
import { makeHost, makePrompt, png, referenceLogits, startServer, toFloats, writePrompt, type HostFixture, type PromptFixture } from './fixtures.js';

// The page at `/` in real headless Chromium (Debian's /usr/bin/chromium driven by playwright-core): pick a
// prompt, upload an image, see the top-5 and the prompted canvas. PROMPTKD_SCREENSHOT=<file.png> keeps a screenshot.
const CHROMIUM = process.env.PROMPTKD_CHROMIUM ?? '/usr/bin/chromium';
const hasChromium = existsSync(CHROMIUM);
if (!hasChromium) console.warn(`[web-page] skipped: no Chromium at ${CHROMIUM} (apt-get install chromium, or set PROMPTKD_CHROMIUM)`);

const work = mkdtempSync(join(tmpdir(), 'promptkd-serve-page-'));
let host: HostFixture;
const prompts: PromptFixture[] = [];
let server: { app: FastifyInstance; url: string };
let browser: Browser | undefined;

/** A 28×28 grey "trouser": two bright legs on black. */
function trouser(): Uint8Array {
  const img = new Uint8Array(28 * 28);
  for (let y = 3; y < 26; y++) {
    for (let x = 8; x < 20; x++) if (y < 10 || x < 13 || x > 14) img[y * 28 + x] = 200 + ((x * 7 + y * 3) % 40);
  }
  return img;
}

beforeAll(async () => {
  if (!hasChromium) return;
  host = await makeHost(work);
  prompts.push(makePrompt('fashion-on-mnist', host, { seed: 1 }), makePrompt('cifar-on-mnist', host, { seed: 2, task: 'cifar' }));
  for (const p of prompts) writePrompt(join(work, 'prompts'), p);
  server = await startServer({ host: host.file, prompts: join(work, 'prompts'), watch: false });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
});

afterAll(async () => {
  await browser?.close();
  await server?.app.close();
  host?.model.dispose();
  for (const p of prompts) p.prompt.dispose();
  rmSync(work, { recursive: true, force: true });
});

describe.skipIf(!hasChromium)('web page in headless Chromium', () => {
  it('uploads an image and shows the top-5 and the prompted canvas', async () => {
    const page = await browser!.newPage({ viewport: { width: 900, height: 620 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(server.url);
    await page.waitForSelector('#prompt option[value="fashion-on-mnist"]', { state: 'attached' });
    expect(await page.locator('#prompt option').allTextContents()).toEqual(['cifar-on-mnist (cifar10)', 'fashion-on-mnist (fashionMnist)']);
    await page.selectOption('#prompt', 'fashion-on-mnist');
    expect(await page.textContent('#about')).toContain('10 classes, canvas 32 → 36 → 40 px');

    const image = trouser();
    const file = join(work, 'trouser.png');
    writeFileSync(file, png(image, [28, 28, 1]));
    await page.setInputFiles('#file', file);
    await page.waitForSelector('#result:not([hidden])');
    await page.waitForFunction(() => (document.getElementById('canvas') as HTMLImageElement).naturalWidth > 0);

    // the page shows what the server computed: the run's evaluation path gives the same ranking
    const expected = referenceLogits(host, prompts[0]!, toFloats(image), 1)[0]!;
    const order = Array.from(expected.keys()).sort((a, b) => (expected[b] as number) - (expected[a] as number));
    const names = prompts[0]!.task.classNames;
    const rows = await page.locator('#top li span:first-child').allTextContents();
    expect(rows).toEqual(order.slice(0, 5).map((i) => names[i]));
    const percents = await page.locator('#top li span:last-child').allTextContents();
    expect(percents.every((t) => /^\d+\.\d%$/.test(t))).toBe(true);
    const size = await page.$eval('#canvas', (img) => [(img as HTMLImageElement).naturalWidth, (img as HTMLImageElement).naturalHeight]);
    expect(size).toEqual([40, 40]);
    expect(errors).toEqual([]);
    expect(await page.textContent('#error')).toBe('');

    const shot = await page.screenshot({ fullPage: true });
    const decoded = decode(shot);
    expect(decoded.width).toBe(900);
    if (process.env.PROMPTKD_SCREENSHOT) writeFileSync(process.env.PROMPTKD_SCREENSHOT, shot);
    await page.close();
  });

  it('shows the server error for a bad upload', async () => {
    const page = await browser!.newPage();
    await page.goto(server.url);
    await page.waitForSelector('#prompt option', { state: 'attached' });
    const file = join(work, 'notes.png');
    writeFileSync(file, 'this is text, not a PNG');
    await page.setInputFiles('#file', file);
    await page.waitForFunction(() => document.getElementById('error')!.textContent !== '');
    expect(await page.textContent('#error')).toContain('is not a PNG or JPEG image');
    await page.close();
  });
});
