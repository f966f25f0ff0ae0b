/* global fetch */
// Load test of `promptkd serve` with autocannon on 127.0.0.1, bounded in time: throughput and p50/p99 latency for
// (a) one prompt and (b) 8 prompts mixed, each with dynamic batching off (--max-batch-size 1) and on.
// The server runs as its own process (the real CLI); autocannon runs here. Not part of `npm test`.
//
//   npm run bench:load -w @promptkd/serve -- --host <model.safetensors|cache key> --prompts <dir> [--duration 15]
//       [--connections 32] [--repeat 3] [--max-batch-size 32] [--max-wait-ms 2] [--body png|raw] [--out load.json]
//
// The prompt folder needs 8 prompts for scenario (b) (fewer: it uses what there is). Requests are PNG bodies (or, with
// --body raw, the same pixels as raw float32 NHWC, the programs' path) of real test images of each prompt's source
// dataset when the dataset loads offline, random images otherwise.
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { encode } from 'fast-png';
import { loadDataset } from '@promptkd/datasets/node';

const { values: args } = parseArgs({
  options: {
    host: { type: 'string' },
    prompts: { type: 'string' },
    duration: { type: 'string', default: '15' },
    connections: { type: 'string', default: '32' },
    'max-batch-size': { type: 'string', default: '32' },
    'max-wait-ms': { type: 'string', default: '2' },
    repeat: { type: 'string', default: '3' },
    body: { type: 'string', default: 'png' },
    out: { type: 'string' },
  },
});
if (!args.host || !args.prompts) {
  console.error('usage: load.mjs --host <model.safetensors|cache key> --prompts <dir> [--duration 15] [--connections 32] [--out file.json]');
  process.exit(2);
}
const duration = Number(args.duration);
const connections = Number(args.connections);
const repeat = Number(args.repeat);
if (args.body !== 'png' && args.body !== 'raw') {
  console.error(`--body must be png or raw, got ${args.body}`);
  process.exit(2);
}
const cli = fileURLToPath(new URL('../../../apps/cli/bin/promptkd.mjs', import.meta.url));

/** Starts `promptkd serve` on a free port; resolves with its URL and a stop function. */
function startServer(extra) {
  const child = spawn(process.execPath, [cli, 'serve', '--host', args.host, '--prompts', args.prompts, '--port', '0', '--no-watch', ...extra], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, PROMPTKD_PROGRESS: 'silent' },
  });
  return new Promise((resolve, reject) => {
    let err = '';
    child.stderr.on('data', (d) => {
      err += d;
      const m = /serving on (http:\/\/127\.0\.0\.1:\d+)/.exec(err);
      if (m) resolve({ url: m[1], backend: /promptkd: backend[^\n]*/.exec(err)?.[0] ?? '', stop: () => new Promise((r) => { child.once('exit', r); child.kill('SIGTERM'); }) });
    });
    child.once('exit', (code) => reject(new Error(`promptkd serve exited with ${code}:\n${err}`)));
  });
}

/** One PNG per prompt: the first test image of its source dataset (offline), or a random one. */
async function imageFor(p) {
  const [h, w, c] = p.imageShape;
  try {
    const test = await loadDataset(p.sourceDataset, { split: 'test' });
    if (test.height === h && test.width === w && test.channels === c) return body(test.images.subarray(0, h * w * c), [h, w, c], true);
  } catch {
    // not available offline: random pixels are as costly to serve
  }
  return body(Uint8Array.from({ length: h * w * c }, (_, i) => (i * 2654435761) >>> 24), [h, w, c], false);
}

/** One request body of these 8-bit pixels: a PNG, or float32 NHWC in [0, 1] (`--body raw`). */
function body(pixels, [h, w, c], real) {
  if (args.body === 'raw') {
    const f = Float32Array.from(pixels, (v) => v / 255);
    return { bytes: Buffer.from(f.buffer), type: 'application/octet-stream', query: `&shape=1,${h},${w},${c}`, real };
  }
  return { bytes: Buffer.from(encode({ width: w, height: h, channels: c, depth: 8, data: pixels })), type: 'image/png', query: '', real };
}

const batching = ['--max-batch-size', args['max-batch-size'], '--max-wait-ms', args['max-wait-ms']];
const configs = [
  { name: 'one at a time', extra: ['--max-batch-size', '1'] },
  { name: `dynamic batching (≤ ${args['max-batch-size']} images, ≤ ${args['max-wait-ms']} ms wait)`, extra: batching },
];

const probe = await startServer(configs[0].extra);
const listing = await (await fetch(`${probe.url}/v1/prompts`)).json();
await probe.stop();
const prompts = listing.prompts.slice(0, 8);
if (prompts.length === 0) throw new Error(`no prompts served from ${args.prompts}`);
const bodies = await Promise.all(prompts.map(imageFor));
const request = (p, i) => ({ method: 'POST', path: `/v1/prompts/${p.id}/predict?k=5${bodies[i].query}`, headers: { 'content-type': bodies[i].type }, body: bodies[i].bytes });
const scenarios = [
  { name: '(a) one prompt', requests: [request(prompts[0], 0)] },
  { name: `(b) ${prompts.length} prompts mixed`, requests: prompts.map(request) },
];

// Both servers of a scenario stay up; their runs alternate (off, on, off, on, …) so both see the same machine load,
// and each cell reports the median over the repeats.
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];
const rows = [];
const raw = [];
let backend = '';
for (const s of scenarios) {
  const servers = [];
  for (const c of configs) servers.push(await startServer(c.extra));
  backend = servers[0].backend;
  for (const server of servers) await autocannon({ url: server.url, connections, duration: 2, requests: s.requests }); // warm-up
  const runs = configs.map(() => []);
  for (let r = 0; r < repeat; r++) {
    for (const [i, server] of servers.entries()) {
      const res = await autocannon({ url: server.url, connections, duration, requests: s.requests });
      runs[i].push(res);
      raw.push({ scenario: s.name, server: configs[i].name, repeat: r, requestsPerSecond: res.requests.average, p50: res.latency.p50, p99: res.latency.p99, non2xx: res.non2xx, errors: res.errors });
      console.error(`${s.name} | ${configs[i].name} | run ${r + 1}/${repeat}: ${res.requests.average} req/s, p50 ${res.latency.p50} ms, p99 ${res.latency.p99} ms, non-2xx ${res.non2xx}, errors ${res.errors}`);
    }
  }
  for (const [i, server] of servers.entries()) {
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    await server.stop();
    const sum = Number(/^promptkd_serve_batch_images_sum (\S+)/m.exec(metrics)?.[1] ?? NaN);
    const count = Number(/^promptkd_serve_batch_images_count (\S+)/m.exec(metrics)?.[1] ?? NaN);
    const rs = runs[i];
    rows.push({
      scenario: s.name,
      server: configs[i].name,
      requestsPerSecond: median(rs.map((x) => x.requests.average)),
      p50: median(rs.map((x) => x.latency.p50)),
      p99: median(rs.map((x) => x.latency.p99)),
      failed: rs.reduce((a, x) => a + x.non2xx + x.errors, 0),
      meanBatch: sum / count,
    });
  }
}

const cpu = cpus()[0]?.model ?? 'unknown CPU';
const lines = [
  `Load test: ${connections} connections × ${duration} s per run, median of ${repeat} alternating runs per cell, on 127.0.0.1, ${args.body === 'raw' ? 'raw float32' : 'PNG'} bodies (${bodies.some((b) => b.real) ? 'real test images' : 'random images'}), host ${listing.host.arch} (${listing.host.dataset ?? '?'}), ${cpus().length} cores, ${cpu}`,
  `server: ${backend}`,
  '',
  '| scenario | server | req/s | p50 ms | p99 ms | mean batch | failed |',
  '| --- | --- | ---: | ---: | ---: | ---: | ---: |',
  ...rows.map((r) => `| ${r.scenario} | ${r.server} | ${r.requestsPerSecond.toFixed(0)} | ${r.p50} | ${r.p99} | ${r.meanBatch.toFixed(1)} | ${r.failed} |`),
  '',
  ...scenarios.map((s) => {
    const [off, on] = rows.filter((r) => r.scenario === s.name);
    return `${s.name}: batching gives ${(on.requestsPerSecond / off.requestsPerSecond).toFixed(2)}× the throughput, p99 ${on.p99} ms vs ${off.p99} ms`;
  }),
];
console.log(lines.join('\n'));
if (args.out) writeFileSync(args.out, `${JSON.stringify({ cpu, connections, duration, repeat, backend, rows, runs: raw }, null, 2)}\n`);
