/** Version of `@promptkd/visual-prompt` recorded in prompt artifacts (kept equal to package.json by a test). */
export const VERSION = '0.1.0';
