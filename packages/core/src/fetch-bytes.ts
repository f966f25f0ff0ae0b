import { ResourceUnavailableError } from './errors.js';

/** Where bytes come from in a browser or in Node without the file system: a URL, or a file the user dropped (a Blob). */
export type ByteSource = string | URL | Blob;

/** Options of {@link fetchBytes}. */
export interface FetchBytesOptions {
  /** The fetch to use (default: the global `fetch`). */
  readonly fetch?: (url: string) => Promise<{ ok: boolean; status: number; statusText: string; arrayBuffer(): Promise<ArrayBuffer> }>;
}

/** A readable name of a byte source for error messages: the URL, or the dropped file's name. */
export function byteSourceName(source: ByteSource): string {
  if (typeof source === 'string') return source;
  if (source instanceof URL) return source.href;
  return (source as Blob & { name?: string }).name ?? '<blob>';
}

/**
 * Reads all bytes of a URL (`fetch`) or of a Blob/File (e.g. a file dropped on a page). Works in browsers and in Node.
 * @throws ResourceUnavailableError naming the source when the request fails or answers a non-2xx status.
 */
export async function fetchBytes(source: ByteSource, options: FetchBytesOptions = {}): Promise<Uint8Array> {
  const name = byteSourceName(source);
  if (typeof source !== 'string' && !(source instanceof URL)) {
    try {
      return new Uint8Array(await source.arrayBuffer());
    } catch (e) {
      throw new ResourceUnavailableError(`${name} could not be read (${e instanceof Error ? e.message : String(e)}).`, { file: name }, { cause: e });
    }
  }
  const doFetch = options.fetch ?? (globalThis.fetch as FetchBytesOptions['fetch']);
  if (!doFetch) throw new ResourceUnavailableError(`No fetch() to load ${name}: pass options.fetch.`, { file: name });
  let res: Awaited<ReturnType<NonNullable<FetchBytesOptions['fetch']>>>;
  try {
    res = await doFetch(name);
  } catch (e) {
    throw new ResourceUnavailableError(
      `${name} could not be fetched (${e instanceof Error ? e.message : String(e)}). Check the address, or load the file from disk.`,
      { file: name },
      { cause: e },
    );
  }
  if (!res.ok) {
    throw new ResourceUnavailableError(`${name} answered HTTP ${res.status} ${res.statusText}. Check the address.`, {
      file: name,
      status: res.status,
    });
  }
  return new Uint8Array(await res.arrayBuffer());
}
