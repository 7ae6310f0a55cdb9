// Imported first by a test file: the translators it builds use Node's own
// handles, not the fastio addon (the fallback where the addon is missing).
import { disableFastIoForTests } from '../../../src/io/fastio.js';

disableFastIoForTests(true);
