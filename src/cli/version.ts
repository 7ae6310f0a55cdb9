import type { Mode } from '../config.js';

/** Keep in step with "version" in package.json. */
export const VERSION = '0.1.0';

/** --version output, mode-dependent like pasta's ("pasta 2024_..." / "passt 2024_..."). */
export function versionText(mode: Mode): string {
  return `${mode}-ts ${VERSION}\nCopyright (c) the pasta-ts authors; MIT License. There is NO WARRANTY.\n`;
}
