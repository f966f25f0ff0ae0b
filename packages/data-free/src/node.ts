/*
 * @promptkd/data-free for Node: everything of the main entry plus the image bank's folder store.
 */
export * from './index.js';
export { ImageBankFolder } from './image-bank-folder.js';
