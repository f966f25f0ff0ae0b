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

/**
 * Facts about an entry that apps and docs read instead of re-declaring them: a display label (as in the papers'
 * tables), a sort order, and whatever a registry adds for its kind (e.g. the synthetic banks of a KiOP variant).
 */
export interface EntryMeta {
  /** Name in tables and figures, e.g. `KiOP-BF`, `CODA-P`. Default: the key. */
  readonly label?: string;
  /** Position in tables (ascending); entries without one follow in registration order. */
  readonly order?: number;
}

/** One registered item: a factory plus its metadata. */
export interface RegistryEntry<F, M extends EntryMeta = EntryMeta> {
  readonly key: string;
  /** One-line description shown in docs and error messages. */
  readonly description: string;
  readonly paper?: PaperRef;
  /** Typed facts about the entry (label, order, per-kind facts). */
  readonly meta?: M;
  readonly create: F;
}

/** A typed registry keyed by string. */
export interface Registry<F, M extends EntryMeta = EntryMeta> {
  /** Registry name, used in error messages ("KD loss", "prompt type", ...). */
  readonly kind: string;
  register(key: string, entry: Omit<RegistryEntry<F, M>, 'key'>, options?: { override?: boolean }): void;
  get(key: string): RegistryEntry<F, M>;
  has(key: string): boolean;
  keys(): string[];
  entries(): RegistryEntry<F, M>[];
  /** `meta.label` of a registered key, else the key itself (also for unknown keys: tables show what they get). */
  label(key: string): string;
  /**
   * Sorts keys by `meta.order`, then registration order; unknown keys go last in their given order. Without an
   * argument: all registered keys.
   */
  ordered(keys?: Iterable<string>): string[];
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
export function createRegistry<F, M extends EntryMeta = EntryMeta>(kind: string): Registry<F, M> {
  const items = new Map<string, RegistryEntry<F, M>>();
  const rank = (key: string): [number, number] => {
    const keys = [...items.keys()];
    const i = keys.indexOf(key);
    if (i < 0) return [2, 0];
    const order = items.get(key)?.meta?.order;
    return order === undefined ? [1, i] : [0, order];
  };
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
    label: (key) => items.get(key)?.meta?.label ?? key,
    ordered(keys) {
      const list = keys === undefined ? [...items.keys()] : [...keys];
      const ranked = list.map((k, i) => ({ k, i, r: rank(k) }));
      ranked.sort((a, b) => a.r[0] - b.r[0] || a.r[1] - b.r[1] || a.i - b.i);
      return ranked.map((x) => x.k);
    },
    markdownTable() {
      const rows = [...items.values()].map((e) => {
        const paper = e.paper ? (e.paper.url ? `[${e.paper.citation}](${e.paper.url})` : e.paper.citation) : '';
        return `| \`${e.key}\` | ${e.description} | ${paper} |`;
      });
      return ['| key | description | paper |', '| --- | --- | --- |', ...rows].join('\n');
    },
  };
}
