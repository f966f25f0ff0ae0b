// Prints vitest's JSON results as the plain closing line "N passed, N failed[, N skipped]", after one line per failed
// test or suite (file, test name, the first line of its error), so that the end of a log says what failed.
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';

const file = process.argv[2] ?? '.vitest-results.json';
let r;
try {
  r = JSON.parse(readFileSync(file, 'utf8'));
} catch (err) {
  console.error(`no test results at ${file}: ${err.message}`);
  console.log('0 passed, 1 failed');
  process.exit(1);
}
const firstLine = (text) => String(text ?? '').split('\n').find((l) => l.trim() !== '')?.trim().slice(0, 300) ?? '';
const passed = r.numPassedTests ?? 0;
let failed = r.numFailedTests ?? 0;
const skipped = (r.numPendingTests ?? 0) + (r.numTodoTests ?? 0);
for (const suite of r.testResults ?? []) {
  const name = relative(process.cwd(), suite.name ?? '');
  if (suite.status === 'failed' && (suite.assertionResults ?? []).length === 0) {
    failed += 1;
    console.log(`suite failed to run: ${name}: ${firstLine(suite.message)}`);
  }
  for (const test of suite.assertionResults ?? []) {
    if (test.status === 'failed') console.log(`failed: ${name} > ${test.fullName ?? test.title}: ${firstLine(test.failureMessages?.[0])}`);
  }
}
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(failed > 0 || passed === 0 ? 1 : 0);
