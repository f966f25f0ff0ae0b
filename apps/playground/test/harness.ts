import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { createRequire } from 'node:module';
import * as esbuild from 'esbuild';
import { launchChromium } from './chromium.js';

/** An esbuild browser bundle of one entry, served on 127.0.0.1 (a secure context, so WebGPU is exposed) to Chromium. */
export interface Harness {
  /** Opens a fresh page and calls `window.promptkdRun(...args)` there; returns its (JSON) result. */
  run(...args: unknown[]): Promise<unknown>;
  readonly url: string;
  close(): Promise<void>;
}

const wasmDir = join(dirname(createRequire(import.meta.url).resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist');

/** Bundles `entry` for the browser (sources of the workspace packages, `browser` conditions). */
export async function bundleForBrowser(entry: string): Promise<string> {
  const result = await esbuild.build({
    entryPoints: [entry],
    bundle: true,
    write: false,
    platform: 'browser',
    format: 'esm',
    target: 'es2022',
    conditions: ['@promptkd/source'],
    logLevel: 'silent',
  });
  return result.outputFiles[0]!.text;
}

export async function openHarness(entry: string): Promise<Harness> {
  const code = await bundleForBrowser(resolve(entry));
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]!;
    if (path === '/') {
      res.setHeader('content-type', 'text/html');
      res.end('<!doctype html><html><head><script type="module" src="/bundle.js"></script></head><body></body></html>');
    } else if (path === '/bundle.js') {
      res.setHeader('content-type', 'text/javascript');
      res.end(code);
    } else if (path.startsWith('/wasm/') && /^[\w.-]+\.wasm$/.test(path.slice(6))) {
      res.setHeader('content-type', 'application/wasm');
      res.end(readFileSync(join(wasmDir, path.slice(6))));
    } else {
      res.statusCode = 404;
      res.end();
    }
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  const chromium = await launchChromium();
  return {
    url,
    async run(...args) {
      const page = await chromium.context.newPage();
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      if (process.env.PROMPTKD_BROWSER_CONSOLE) page.on('console', (m) => console.log(`[page] ${m.text()}`));
      try {
        await page.goto(url);
        await page.waitForFunction(() => typeof (window as { promptkdRun?: unknown }).promptkdRun === 'function', undefined, { timeout: 60_000 });
        return await page.evaluate((a) => (window as unknown as { promptkdRun(...x: unknown[]): Promise<unknown> }).promptkdRun(...a), args);
      } catch (e) {
        throw new Error(`${e instanceof Error ? e.message : String(e)}${errors.length ? `\npage errors: ${errors.join('\n')}` : ''}`);
      } finally {
        await page.close();
      }
    },
    async close() {
      await chromium.close();
      await new Promise<void>((ok) => server.close(() => ok()));
    },
  };
}
