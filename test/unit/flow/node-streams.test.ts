// The TCP translator's tests again, on Node's own handles only: where the
// fastio addon is missing (or a connection's direct write falls back),
// pasta-ts must behave the same.
import '../helpers/no-fastio.js';
import './tcp.test.js';
import './limits.test.js';
import { it, expect } from 'vitest';
import { fastIo } from '../../../src/io/fastio.js';

it('runs without the fastio addon', () => {
  expect(fastIo()).toBeNull();
});
