/**
 * A fraction as a percentage string for a table cell: `0.1234` → `'12.34'`; an empty cell for a missing or NaN value
 * (a metric the run did not record).
 *
 * @param digits - decimals (default 2).
 * @example
 * formatPercent(0.1234);     // '12.34'
 * formatPercent(undefined);  // ''
 */
export function formatPercent(value: number | null | undefined, digits = 2): string {
  return value === undefined || value === null || Number.isNaN(value) ? '' : (100 * value).toFixed(digits);
}
