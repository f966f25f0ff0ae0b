import type { KdpPresetName } from './presets.js';

/**
 * One CDL cell as plain data (JSON-safe, e.g. a queued job or the arguments of a child process): a named preset
 * with a dataset split, a CL method and a seed, and one or more KD methods that share ONE teacher run (the teacher
 * never depends on the student); each KD method is its own run folder. `resolveCdlCell` (`@promptkd/kdp/node`)
 * turns it into the validated preset, `cdlCellRunOptions` into `runCdlCell`'s options.
 */
export interface CdlCellSpec {
  /** A `kdpRunPresets` name. */
  readonly preset: KdpPresetName;
  /** `<tasks>x<classes>`, e.g. `2x5` (`parseCdlSplit`). Default: the preset's. */
  readonly split?: string;
  /** Dataset key override (`fashionMnist`, `cifar100`, `imagenetR`). */
  readonly dataset?: string;
  /** CL method key (`coda`, `dualprompt`, `l2p`). */
  readonly cl: string;
  /** KD method keys (`kdMethodRegistry`). */
  readonly kd: readonly string[];
  readonly seed: number;
  /** Teacher backbone shape: a `vitShapeOf` name (absent or `preset` = the preset's). */
  readonly teacher?: string;
  /** Student (and shared query) backbone shape: a `vitShapeOf` name (absent or `preset` = the preset's). */
  readonly student?: string;
  /** `key.path=value` overrides of the preset. */
  readonly set?: readonly string[];
  /** timm ViT checkpoint (safetensors) for the teacher instead of in-app pretraining. */
  readonly teacherWeights?: string;
  /** timm ViT checkpoint (safetensors) for the student / query ViT. */
  readonly studentWeights?: string;
  /** Folder with the dataset's files (e.g. IDX for Fashion-MNIST). */
  readonly dataRoot?: string;
}
