/** A bad command line: becomes `{ kind: 'exit', code: 1 }` with this message. */
export class CliError extends Error {
  override name = 'CliError';
}

/** pasta's die() exits with EXIT_FAILURE for every configuration error. */
export const EXIT_BAD_OPTIONS = 1;
