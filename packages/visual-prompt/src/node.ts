/*
 * @promptkd/visual-prompt for Node: everything of the main entry plus prompt artifacts on disk.
 * Browser bundles import '@promptkd/visual-prompt' (artifacts from URLs or dropped files: `loadPromptArtifactFrom`).
 */
export * from './index.js';
export { loadPromptArtifact, savePromptArtifact } from './artifact-files.js';
