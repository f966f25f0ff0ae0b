import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const libraryPackages = [
  'core', 'models', 'datasets', 'visual-prompt', 'label-mapping', 'kd-losses', 'data-free', 'kiop', 'continual', 'kdp', 'reporting',
];

export default tseslint.config(
  { ignores: ['**/dist/**', '**/node_modules/**', '**/.turbo/**', 'runs/**', '**/*.d.ts'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: 'readonly', console: 'readonly', Buffer: 'readonly', URL: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', performance: 'readonly' } },
    rules: {
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-restricted-imports': ['error', { patterns: [
        { group: ['@promptkd/*/src', '@promptkd/*/src/*', '../../*/src/*', '../../../packages/*/src/*'], message: "Import another package's public entry, never its src/." },
      ] }],
    },
  },
  {
    files: libraryPackages.map((p) => `packages/${p}/src/**/*.ts`),
    rules: {
      'no-restricted-imports': ['error', { patterns: [
        { group: ['@promptkd/*/src', '@promptkd/*/src/*', '../../*/src/*'], message: "Import another package's public entry, never its src/." },
        { group: ['@promptkd/tfjs-env', '@tensorflow/tfjs-backend-*', '@tensorflow/tfjs-node*'], message: 'Library packages never choose or import a backend; apps and tests do (via @promptkd/tfjs-env).' },
      ] }],
    },
  },
);
