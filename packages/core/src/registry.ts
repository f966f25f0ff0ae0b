import { RegistryError } from './errors.js';

/** Where an entry comes from in the literature. Feeds generated docs tables. */
export interface PaperRef {
  /** Short citation, e.g. "Hinton et al., 2015". */
  readonly citation: string;
  /** Paper title. */
  readonly title?: string;
  /** arXiv or DOI link. */
  readonly url?: string;
}

/** One registered item: a factory plus its metadata. */
export interface RegistryEntry<F> {
  readonly key: string;
  /** One-line description shown in docs and error messages. */
  readonly description: string;
  readonly paper?: PaperRef;
  readonly create: F;
}

/** A typed registry keyed by string. */
export interface Registry<F> {
  /** Registry name, used in error messages ("KD loss", "prompt type", ...). */
  readonly kind: string;
  register(key: string, entry: Omit<RegistryEntry<F>, 'key'>, options?: { override?: boolean }): void;
  get(key: string): RegistryEntry<F>;
  has(key: string): boolean;
  keys(): string[];
  entries(): RegistryEntry<F>[];
  /** Markdown table `| key | description | paper |` built from the entries. */
  markdownTable(): string;
}

/**
 * Creates a typed registry. Unknown keys throw a {@link RegistryError} listing the valid keys;
 * registering a key twice throws unless `override: true` is passed.
 *
 * @example
 * const losses = createRegistry<(cfg: {t: number}) => number>('KD loss');
 * losses.register('kl', { description: 'temperature KL', create: (c) => c.t });
 */
export function createRegistry<F>(kind: string): Registry<F> {
  const items = new Map<string, RegistryEntry<F>>();
  return {
    kind,
    register(key, entry, options) {
      if (!key || typeof key !== 'string') {
        throw new RegistryError(`A ${kind} needs a non-empty string key.`, { kind });
      }
      if (items.has(key) && !options?.override) {
        throw new RegistryError(
          `${kind} '${key}' is already registered. Pass { override: true } to replace it on purpose.`,
          { kind, key },
        );
      }
      items.set(key, { key, ...entry });
    },
    get(key) {
      const entry = items.get(key);
      if (!entry) {
        const valid = [...items.keys()].sort();
        throw new RegistryError(
          `Unknown ${kind} '${key}'. Valid keys: ${valid.length ? valid.join(', ') : '(none registered)'}.`,
          { kind, key, valid },
        );
      }
      return entry;
    },
    has: (key) => items.has(key),
    keys: () => [...items.keys()],
    entries: () => [...items.values()],
    markdownTable() {
      const rows = [...items.values()].map((e) => {
        const paper = e.paper ? (e.paper.url ? `[${e.paper.citation}](${e.paper.url})` : e.paper.citation) : '';
        return `| \`${e.key}\` | ${e.description} | ${paper} |`;
      });
      return ['| key | description | paper |', '| --- | --- | --- |', ...rows].join('\n');
    },
  };
}
