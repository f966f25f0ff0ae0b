import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

/** Absolute path of a file in a test's `fixtures/` folder, given the test's `import.meta.url`. */
export function fixturePath(testUrl: string, name: string): string {
  return join(dirname(fileURLToPath(testUrl)), 'fixtures', name);
}

/** Parses a JSON fixture next to the calling test. */
export function readFixture<T = unknown>(testUrl: string, name: string): T {
  return JSON.parse(readFileSync(fixturePath(testUrl, name), 'utf8')) as T;
}
