// pasta's and passt's command line → one validated, frozen Config.
//
// commander splits argv (short clusters "-dq", attached values "-t22",
// "--mtu=1500", "--", stopping at the first operand like getopt's "+");
// every recognised option is recorded in order and then applied through the
// table in options.ts, so repeated and conflicting options behave as in pasta.
// Pure: no I/O, no process.exit, nothing printed.

import { Command, CommanderError, Option } from 'commander';
import type { Config, Mode } from '../config.js';
import { newDraft } from './draft.js';
import { CliError, EXIT_BAD_OPTIONS } from './errors.js';
import { finalize } from './finalize.js';
import { helpText } from './help.js';
import { checkMode, optionLabel, OPTIONS, type OptionDef } from './options.js';
import { versionText } from './version.js';

export type CliResult =
  | { kind: 'run'; config: Config }
  /** --help, --version, errors; stdout/stderr are newline-terminated, to be written verbatim */
  | { kind: 'exit'; code: number; stdout?: string; stderr?: string };

export { VERSION } from './version.js';

/** passt's rule: a name containing "passt" but not "pasta" selects passt mode. */
export function modeFor(progName: string): Mode {
  return progName.includes('passt') && !progName.includes('pasta') ? 'passt' : 'pasta';
}

export function parseCli(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
  progName: string,
): CliResult {
  const mode = modeFor(progName);
  const { events, operands, error } = tokenize(argv, progName);
  try {
    const draft = newDraft(mode);
    for (const { def, value } of events) {
      if (def.terminal === 'help') return { kind: 'exit', code: 0, stdout: helpText(mode, progName) };
      if (def.terminal === 'version') return { kind: 'exit', code: 0, stdout: versionText(mode) };
      checkMode(def, mode);
      def.apply?.(draft, value ?? '', optionLabel(def));
    }
    if (error !== undefined) throw new CliError(error);
    return { kind: 'run', config: finalize(draft, operands, env, progName) };
  } catch (e) {
    if (!(e instanceof CliError)) throw e;
    return { kind: 'exit', code: EXIT_BAD_OPTIONS, stderr: `${progName}: ${e.message}\n` };
  }
}

interface Tokens {
  /** recognised options, in command-line order */
  events: Array<{ def: OptionDef; value: string | undefined }>;
  operands: string[];
  /** commander's complaint (unknown option, missing argument), if any */
  error?: string;
}

function tokenize(argv: readonly string[], progName: string): Tokens {
  const events: Tokens['events'] = [];
  const program = new Command(progName)
    .exitOverride()
    .configureOutput({ writeOut: () => {}, writeErr: () => {}, outputError: () => {} })
    .helpOption(false)
    .showSuggestionAfterError(false)
    .passThroughOptions()
    .argument('[args...]');
  for (const def of OPTIONS) {
    const option = new Option(def.arg ? `${def.names} <value>` : def.names);
    program.addOption(option);
    program.on(`option:${option.name()}`, (value?: string) => events.push({ def, value }));
  }
  try {
    program.parse([...argv], { from: 'user' });
  } catch (e) {
    if (!(e instanceof CommanderError)) throw e;
    // events seen before the error still count: "-h --bogus" shows help, like getopt
    return { events, operands: [], error: commanderMessage(e) };
  }
  return { events, operands: program.args };
}

/** "error: option '-t, --tcp-ports <value>' argument missing" → "option '-t, --tcp-ports' requires an argument" */
function commanderMessage(e: CommanderError): string {
  const line = e.message.replace(/^error: /, '').split('\n')[0] ?? e.message;
  return line.replace(/^option '(.+?) <value>' argument missing$/, "option '$1' requires an argument");
}
