import { describe, expect, it } from 'vitest';
import { packTensors, type NamedTensor } from '../../core/tensors.ts';
import { decodeWeights, encodeWeights } from '../../proto/convert.ts';

const tensors: NamedTensor[] = [
  { name: 'conv/kernel', shape: [2, 3], dtype: 'float32', data: Float32Array.from([1, -2, 3.5, 0.25, 1e-7, -6e6]) },
  { name: 'conv/bias', shape: [3], dtype: 'float32', data: Float32Array.from([0.5, -0.5, 7]) },
];

describe('weights on the wire', () => {
  it('round-trip, each tensor a view on the received bytes (no copy)', () => {
    const bytes = encodeWeights(tensors);
    const got = decodeWeights(bytes);
    expect(got.map((t) => [t.name, t.shape, [...t.data]])).toEqual(tensors.map((t) => [t.name, t.shape, [...t.data]]));
    for (const t of got) expect(t.data.buffer).toBe(bytes.buffer);
    // a view: the packed bias starts 12 bytes before the end
    expect(got[1].data.byteOffset).toBe(bytes.length - 12);
  });

  it('a payload at an odd offset still decodes, into copies', () => {
    const packed = packTensors(tensors);
    const shifted = new Uint8Array(packed.length + 1);
    shifted.set(packed, 1);
    const got = decodeWeights(shifted.subarray(1));
    expect(got.map((t) => [...t.data])).toEqual(tensors.map((t) => [...t.data]));
    for (const t of got) expect(t.data.buffer).not.toBe(shifted.buffer);
  });

  it('a malformed payload is INVALID_ARGUMENT', () => {
    expect(() => decodeWeights(new Uint8Array(12))).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
  });
});
