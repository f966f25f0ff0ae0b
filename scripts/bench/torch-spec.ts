/**
 * Dev aid: the JSON spec with which the bench builds a study workload on PyTorch's side (`torchSpec`), for
 * torch_prof.py. `node --conditions=@promptkd/source --import tsx scripts/bench/torch-spec.ts kdp-cpu-student | python3 scripts/bench/torch_prof.py`
 */
import { initBackend } from '@promptkd/tfjs-env';
import { STUDY_MODELS } from './study-workloads.js';

const name = process.argv[2] ?? 'kdp-cpu-student';
const make = STUDY_MODELS[name];
if (!make) {
  console.error(`unknown study workload '${name}'; one of: ${Object.keys(STUDY_MODELS).join(', ')}`);
  process.exit(2);
}
await initBackend({ backend: 'wasm', native: 'auto', log: () => undefined });
const m = make();
process.stdout.write(`${JSON.stringify(m.torchSpec)}\n`);
m.dispose();
