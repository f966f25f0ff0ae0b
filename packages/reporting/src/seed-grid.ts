/** One metric of one row by seed (seed → value). */
export type SeedValues = ReadonlyMap<number, number>;

/**
 * One metric over a grid of runs, by seed: per group (a column group of a table, e.g. a CL method), per row
 * (e.g. a method), the value by seed — `grid.get(group)?.get(row)?.get(seed)`. What the seed tables take
 * ({@link pairedDifferencesTable}, {@link claimsTable}, {@link perSeedTable}).
 */
export type SeedGrid = ReadonlyMap<string, ReadonlyMap<string, SeedValues>>;
