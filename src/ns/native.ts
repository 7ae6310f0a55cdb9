// Where the native shims live (native-shims/build). Kept apart from sys.ts so
// that code which only needs the launcher's path does not load ffi-rs.
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const NATIVE_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../native-shims/build');
export const LAUNCHER = path.join(NATIVE_DIR, 'pasta-ts-launch');
