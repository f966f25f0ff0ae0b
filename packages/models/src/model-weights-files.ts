import type { TorchNamedModel } from './classifier-base.js';
import { readSafetensors, writeBytesAtomic } from './safetensors-files.js';
import { loadStateDict, serializeModel, type LoadReport, type LoadStateDictOptions } from './state-dict.js';

/** Writes the model as a PyTorch-compatible `.safetensors` file (atomic; Node). */
export async function saveModelWeights(model: TorchNamedModel, path: string, metadata: Readonly<Record<string, string>> = {}): Promise<void> {
  await writeBytesAtomic(path, serializeModel(model, metadata));
}

/** Reads a `.safetensors` file (e.g. `safetensors.torch.save_file(model.state_dict())`) into a model (Node). */
export async function loadModelWeights(model: TorchNamedModel, path: string, options: LoadStateDictOptions = {}): Promise<LoadReport> {
  const file = await readSafetensors(path);
  return loadStateDict(model, file.tensors, { ...options, file: options.file ?? path });
}
