#!/usr/bin/env python3
"""Writes the first ROWS rows of every 2-D F32 tensor of a GGUF file (tensors in name order) as
one float32 file. Used on llama.cpp's own dequantization of a quantized file (llamacpp_ref
quantize IN OUT 0) to record what llama.cpp decodes, for tests/ggml_interop_test.cc."""
import struct
import sys


def read_gguf_f32_rows(path, rows):
    data = open(path, 'rb').read()
    off = 0

    def take(fmt):
        nonlocal off
        v = struct.unpack_from('<' + fmt, data, off)
        off += struct.calcsize('<' + fmt)
        return v[0] if len(v) == 1 else v

    def string():
        nonlocal off
        n = take('Q')
        s = data[off:off + n].decode('utf-8', 'replace')
        off += n
        return s

    sizes = {0: 'B', 1: 'b', 2: 'H', 3: 'h', 4: 'I', 5: 'i', 6: 'f', 7: '?', 10: 'Q', 11: 'q', 12: 'd'}

    def value(t):
        if t == 8:
            return string()
        if t == 9:
            et, n = take('I'), take('Q')
            return [value(et) for _ in range(n)]
        return take(sizes[t])

    assert data[:4] == b'GGUF', path
    off = 4
    take('I')  # version
    n_tensors, n_kv = take('Q'), take('Q')
    alignment = 32
    for _ in range(n_kv):
        key = string()
        v = value(take('I'))
        if key == 'general.alignment':
            alignment = v
    infos = []
    for _ in range(n_tensors):
        name = string()
        nd = take('I')
        dims = [take('Q') for _ in range(nd)]
        typ, rel = take('I'), take('Q')
        infos.append((name, dims, typ, rel))
    base = (off + alignment - 1) // alignment * alignment
    out = b''
    for name, dims, typ, rel in sorted(infos):
        if len(dims) != 2:
            continue
        assert typ == 0, f'{name} is not F32'
        cols = dims[0]
        start = base + rel
        out += data[start:start + 4 * cols * min(rows, dims[1])]
    return out


if __name__ == '__main__':
    src, rows, dst = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    open(dst, 'wb').write(read_gguf_f32_rows(src, rows))
