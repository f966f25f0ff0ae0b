import { resolve } from 'node:path';

/** The command that serves a finished run's prompts. */
export function serveCommandLine(hostWeights: string, promptsDir: string): string {
  return `promptkd serve --host ${resolve(hostWeights)} --prompts ${resolve(promptsDir)}`;
}

/**
 * One line comparing a batch-statistics run's final accuracies with the served ones (host BN in eval mode on the
 * prompt's own statistics), e.g. `accB 29.10% with batch statistics, 28.40% as served (prompt BN statistics)`.
 */
export function servedLine(results: { final: Readonly<Record<string, number>>; served?: Readonly<Record<string, number>> }): string {
  const pct = (v: number | undefined) => (v === undefined ? '–' : `${(100 * v).toFixed(2)}%`);
  return Object.entries(results.served ?? {})
    .map(([name, v]) => `${name} ${pct(results.final[name])} with batch statistics, ${pct(v)} as served (prompt BN statistics)`)
    .join('; ');
}
