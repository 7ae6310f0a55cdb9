import { describe, expect, it } from 'vitest';
import { BufferPool, CHUNK } from '../../../src/flow/bufpool.js';

describe('BufferPool', () => {
  it('hands out whole chunks and reuses released ones, views included', () => {
    const pool = new BufferPool(4);
    const a = pool.get();
    const b = pool.get();
    expect(a.length).toBe(CHUNK);
    expect(a.buffer).not.toBe(b.buffer);
    expect(pool.allocated).toBe(2);
    pool.release(a.subarray(100, 200)); // a view: the whole chunk comes back
    const c = pool.get();
    expect(c.buffer).toBe(a.buffer);
    expect(c.byteOffset).toBe(0);
    expect(c.length).toBe(CHUNK);
    pool.release(b);
    expect(pool.get()).toBe(b); // a whole chunk is kept as it is
    expect(pool.allocated).toBe(2);
  });

  it('ignores buffers that are not its own', () => {
    const pool = new BufferPool(4);
    const foreign = Buffer.alloc(CHUNK);
    pool.release(foreign);
    const a = pool.get();
    expect(a).not.toBe(foreign);
    expect(pool.allocated).toBe(1);
  });

  it('keeps at most maxFree free chunks and forgets the rest', () => {
    const pool = new BufferPool(2);
    const bufs = [pool.get(), pool.get(), pool.get()];
    expect(pool.allocated).toBe(3);
    for (const b of bufs) pool.release(b);
    expect(pool.allocated).toBe(2);
    const kept = [pool.get(), pool.get()];
    expect(kept).toEqual(expect.arrayContaining([bufs[0], bufs[1]]));
    pool.release(bufs[2]); // forgotten: no longer the pool's
    expect(pool.get()).not.toBe(bufs[2]);
    expect(pool.allocated).toBe(3);
  });
});
