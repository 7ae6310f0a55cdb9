// --help text, laid out like pasta's usage(): one line per option, the
// default on an indented line below, and only the options of the current mode.

import type { Mode } from '../config.js';
import { OPTIONS, type OptionDef } from './options.js';

const COLUMN = 28;

export function helpText(mode: Mode, progName: string): string {
  const options = OPTIONS.filter((def) => !def.only || def.only === mode).flatMap((def) => describe(def, mode));
  return [...synopsis(mode, progName), '', ...options, ''].join('\n');
}

function synopsis(mode: Mode, prog: string): string[] {
  if (mode === 'passt') return [`Usage: ${prog} [OPTION]...`];
  return [
    `Usage: ${prog} [OPTION]... [COMMAND] [ARGS]...`,
    `       ${prog} [OPTION]... PID`,
    `       ${prog} [OPTION]... --netns [PATH|NAME]`,
    '',
    'Without PID or --netns, run the given command or a',
    'default shell in a new network and user namespace, and',
    `connect it via ${prog}.`,
  ];
}

function describe(def: OptionDef, mode: Mode): string[] {
  const names = def.names.startsWith('--') ? `    ${def.names}` : def.names;
  const left = `  ${names}${def.arg ? ` ${def.arg}` : ''}`;
  const [first = '', ...more] = def.help.split('\n');
  const head = left.length < COLUMN ? [left.padEnd(COLUMN) + first] : [left, ' '.repeat(COLUMN) + first];
  const dflt = typeof def.dflt === 'function' ? def.dflt(mode) : def.dflt;
  return [...head, ...more.map((line) => `    ${line}`), ...(dflt ? [`    default: ${dflt}`] : [])];
}
