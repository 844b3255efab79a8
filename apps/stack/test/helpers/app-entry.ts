import { fileURLToPath } from 'node:url';

/** The built entry of a sibling app (`apps/<app>/dist/main.js`), as these suites run it. */
export const appEntry = (app: string): string =>
  fileURLToPath(new URL(`../../../${app}/dist/main.js`, import.meta.url));
