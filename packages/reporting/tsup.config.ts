import { defineConfig } from 'tsup';
import { libraryBuild } from '../../tooling/tsup.base.js';

export default defineConfig(libraryBuild);
