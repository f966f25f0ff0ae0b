import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, join, relative, resolve } from 'node:path';
import { watch, type FSWatcher } from 'chokidar';
import { decodeSafetensorsHeader, PromptKdError } from '@promptkd/core';
import { decodePromptArtifact } from '@promptkd/visual-prompt';
import type { LoadedHost } from './host.js';
import { ServedPrompt, type PromptSummary } from './served-prompt.js';

/** Where the registry reports what it did (Fastify's logger fits). */
export interface RegistryLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

/** A file the registry would not serve, and why. */
export interface RefusedPrompt {
  readonly file: string;
  /** `details.reason` of the error (`host-mismatch`, `corrupt`, `duplicate-id`, …). */
  readonly reason: string;
  readonly message: string;
}

/** Options of {@link PromptRegistry}. */
export interface PromptRegistryOptions {
  /** Folder of prompt artifacts (`<id>.safetensors`), searched recursively (run folders work). */
  readonly dir: string;
  readonly host: LoadedHost;
  readonly log?: RegistryLog;
  /** Watch the folder and pick up new, changed and removed files (default true). */
  readonly watch?: boolean;
  /** Files larger than this are skipped without reading (default 64 MiB; prompts are tens of kB). */
  readonly maxArtifactBytes?: number;
  /** How deep to search below `dir` (default 6: `runs/<pair>/<variant>/prompts/` fits). */
  readonly depth?: number;
}

const ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
/** Folders never searched: run checkpoints, partial pretrainings, dependencies, hidden folders. */
const SKIP_DIRS = /^(checkpoints|node_modules|.+\.partial|\..*)$/;

const silent: RegistryLog = { info() {}, warn() {} };

/**
 * The prompts a server serves: every `<id>.safetensors` prompt artifact under a folder that fits the server's
 * frozen host. Other safetensors files (model weights, checkpoints) are ignored; a prompt artifact that is corrupt
 * or made for another host is refused with a logged reason while the others keep being served. With `watch`, new,
 * changed and removed files are picked up without a restart (chokidar). A replaced prompt's tensors are freed once
 * the requests already queued for it have run.
 */
export class PromptRegistry {
  readonly dir: string;
  private readonly byId = new Map<string, ServedPrompt>();
  private readonly refusedFiles = new Map<string, RefusedPrompt>();
  private readonly log: RegistryLog;
  private watcher: FSWatcher | undefined;
  private chain: Promise<void> = Promise.resolve();
  private started = false;
  private closed = false;

  constructor(private readonly options: PromptRegistryOptions) {
    this.dir = resolve(options.dir);
    this.log = options.log ?? silent;
  }

  /** Loads every prompt in the folder, then (with `watch`) starts watching it. Resolves when the first scan is done. */
  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    const st = await stat(this.dir).catch(() => undefined);
    if (!st?.isDirectory()) {
      throw new PromptKdError('E_CONFIG', `Prompt folder ${this.dir} does not exist or is not a folder.`, { field: 'prompts', dir: this.dir });
    }
    if (this.options.watch ?? true) {
      this.watcher = watch(this.dir, {
        ignoreInitial: true,
        depth: this.options.depth ?? 6,
        awaitWriteFinish: { stabilityThreshold: 150, pollInterval: 25 },
        ignored: (path, stats) => {
          const name = basename(path);
          if (path !== this.dir && SKIP_DIRS.test(name)) return true;
          return stats?.isFile() === true && !name.endsWith('.safetensors');
        },
      });
      const ready = new Promise<void>((res) => this.watcher!.once('ready', () => res()));
      this.watcher.on('add', (f) => this.enqueue(() => this.load(f)));
      this.watcher.on('change', (f) => this.enqueue(() => this.load(f)));
      this.watcher.on('unlink', (f) => this.enqueue(async () => this.remove(f)));
      this.watcher.on('error', (e) => this.log.warn({ err: e }, 'prompt folder watcher error'));
      await ready;
    }
    for (const file of await this.scan(this.dir, this.options.depth ?? 6)) this.enqueue(() => this.load(file));
    await this.idle();
  }

  /** Resolves when every queued load/unload has finished. */
  idle(): Promise<void> {
    return this.chain;
  }

  get(id: string): ServedPrompt | undefined {
    return this.byId.get(id);
  }

  /** Served prompts, sorted by id. */
  list(): ServedPrompt[] {
    return [...this.byId.values()].sort((a, b) => a.id.localeCompare(b.id));
  }

  summaries(): PromptSummary[] {
    return this.list().map((p) => p.summary());
  }

  /** Files refused, with the reason. */
  refused(): RefusedPrompt[] {
    return [...this.refusedFiles.values()].sort((a, b) => a.file.localeCompare(b.file));
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.watcher?.close();
    await this.chain;
    for (const p of this.byId.values()) p.retire();
    this.byId.clear();
  }

  private enqueue(op: () => Promise<void>): void {
    this.chain = this.chain.then(op).catch((e) => this.log.warn({ err: e }, 'prompt registry operation failed'));
  }

  private async scan(dir: string, depth: number): Promise<string[]> {
    const out: string[] = [];
    for (const e of await readdir(dir, { withFileTypes: true })) {
      const path = join(dir, e.name);
      if (e.isDirectory() && depth > 0 && !SKIP_DIRS.test(e.name)) out.push(...(await this.scan(path, depth - 1)));
      else if (e.isFile() && e.name.endsWith('.safetensors') && !e.name.startsWith('.')) out.push(path);
    }
    return out.sort();
  }

  private refuse(file: string, reason: string, message: string): void {
    this.refusedFiles.set(file, { file, reason, message });
    this.log.warn({ file, reason }, `refused prompt ${relative(this.dir, file)}: ${message}`);
  }

  private idOf(file: string): string | undefined {
    for (const [id, p] of this.byId) if (p.file === file) return id;
    return undefined;
  }

  private unserve(file: string): void {
    const id = this.idOf(file);
    if (id === undefined) return;
    this.byId.get(id)?.retire();
    this.byId.delete(id);
  }

  private async load(path: string): Promise<void> {
    if (this.closed) return;
    const file = resolve(path);
    const id = basename(file, '.safetensors');
    const size = (await stat(file).catch(() => undefined))?.size;
    if (size === undefined) return this.remove(file);
    if (size > (this.options.maxArtifactBytes ?? 64 * 2 ** 20)) {
      this.log.info({ file, size }, `skipped ${relative(this.dir, file)}: ${size} bytes, larger than a prompt artifact`);
      return;
    }
    const bytes = new Uint8Array(await readFile(file).catch(() => new Uint8Array(0)));
    let format: string | undefined;
    try {
      format = decodeSafetensorsHeader(bytes, file).metadata.format;
    } catch (e) {
      this.unserve(file);
      return this.refuse(file, 'corrupt', e instanceof Error ? e.message : String(e));
    }
    if (format !== 'promptkd-prompt') {
      // model weights, checkpoints: not ours to serve
      this.unserve(file);
      this.refusedFiles.delete(file);
      return;
    }
    const owner = this.byId.get(id);
    if (owner && owner.file !== file) {
      return this.refuse(file, 'duplicate-id', `prompt id '${id}' is already served from ${relative(this.dir, owner.file)}; rename one of the files.`);
    }
    if (!ID.test(id)) {
      this.unserve(file);
      return this.refuse(file, 'bad-id', `'${id}' is not a usable prompt id (letters, digits, '.', '_', '-'; at most 128); rename the file.`);
    }
    let served: ServedPrompt;
    try {
      const artifact = decodePromptArtifact(bytes, { file });
      try {
        served = ServedPrompt.create(id, file, artifact, this.options.host);
      } catch (e) {
        artifact.prompt.dispose();
        throw e;
      }
    } catch (e) {
      this.unserve(file);
      const reason = e instanceof PromptKdError ? String(e.details.reason ?? e.code) : 'error';
      return this.refuse(file, reason, e instanceof Error ? e.message : String(e));
    }
    const previous = this.byId.get(id);
    this.byId.set(id, served);
    previous?.retire();
    this.refusedFiles.delete(file);
    this.log.info({ file, id }, `${previous ? 'reloaded' : 'serving'} prompt '${id}' (${served.summary().sourceDataset})`);
  }

  private async remove(path: string): Promise<void> {
    const file = resolve(path);
    const id = this.idOf(file);
    this.unserve(file);
    this.refusedFiles.delete(file);
    if (id !== undefined) this.log.info({ file, id }, `stopped serving prompt '${id}' (file removed)`);
  }
}
