import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ConfigError, PromptKdError } from '@promptkd/core';
import { lastErrorLine, runCellInChild } from '../src/index.js';

const cli = fileURLToPath(new URL('./fixtures/cell-child.ts', import.meta.url));
const run = (mode: string) => runCellInChild({ cli, args: [mode], label: `cell-${mode}`, execArgv: ['--conditions=@promptkd/source', '--import', 'tsx'] });

describe('runCellInChild', () => {
  it('resolves when the child succeeds', async () => {
    await expect(run('ok')).resolves.toBeUndefined();
  });

  it('rethrows a reported promptkd error with its class, code and details', async () => {
    const err = await run('config').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect(PromptKdError.isInstance(err, 'E_CONFIG')).toBe(true);
    expect((err as ConfigError).message).toBe("cell cell-config: Unknown dataset 'nope'. Valid: mnist.");
    expect((err as ConfigError).details).toEqual({ field: 'host', valid: ['mnist'] });
  });

  it('reports other failures with the exit status and the last error line', async () => {
    await expect(run('plain')).rejects.toThrow(/^cell cell-plain exited with code 1: RangeError: plain failure/);
    expect(lastErrorLine('progress\nerror (E_CONFIG): bad\n  at x\n')).toBe('error (E_CONFIG): bad');
  });
});
