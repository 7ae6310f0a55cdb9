export function fuzz(data: Buffer): void { if (data.length > 3 && data[0] === 1 && data[1] === 2 && data[2] === 3) throw new Error('x'); }
