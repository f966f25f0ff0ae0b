import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';

/** Debian's Chromium (`apt-get install chromium`), or `PROMPTKD_CHROMIUM`. */
export const CHROMIUM_PATH = process.env.PROMPTKD_CHROMIUM ?? '/usr/bin/chromium';

/** Why browser tests cannot run here, or undefined when they can. */
export function chromiumMissing(): string | undefined {
  return existsSync(CHROMIUM_PATH)
    ? undefined
    : `no Chromium at ${CHROMIUM_PATH} (install Debian's chromium, as .ci/run does, or set PROMPTKD_CHROMIUM)`;
}

/**
 * The browser tests run once, in the plain pass of the suite: the second pass with `PROMPTKD_NATIVE` (Node's native
 * kernels) changes nothing in a browser. Returns the skip reason in that pass.
 */
export function nativePass(): string | undefined {
  return process.env.PROMPTKD_NATIVE ? 'PROMPTKD_NATIVE is set (native Node kernels do not run in a browser; the plain pass runs these tests)' : undefined;
}

/**
 * Headless Chromium with WebGPU and WebGL on SwiftShader (software; they also run on a machine without a GPU), in a
 * fresh profile folder. Close with the returned `close`.
 */
export async function launchChromium(): Promise<{ context: BrowserContext; close(): Promise<void> }> {
  const profile = mkdtempSync(join(tmpdir(), 'promptkd-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: [
      '--no-sandbox',
      '--enable-unsafe-swiftshader',
      '--enable-unsafe-webgpu',
      '--use-angle=swiftshader',
      // WebGPU's synchronous read-back (dataSync) goes through a canvas; without Vulkan compositing it loses the device.
      '--enable-features=Vulkan',
      '--use-vulkan=swiftshader',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      ...(process.env.PROMPTKD_CHROMIUM_ARGS ? process.env.PROMPTKD_CHROMIUM_ARGS.split(' ') : []),
    ],
  });
  return {
    context,
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
