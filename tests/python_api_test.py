#!/usr/bin/env python3
"""The Python bindings (python/tritium, ctypes over libtritium.so) end to end: quantize a model
from Python, load the result, tokenize, run the forward pass, generate, and check the answers
against the tritium CLI on the same file (the C API and the CLI share the engine, so they must
agree token for token), plus the error path. Exit 77 (skipped) when ../shared is absent.

Run by ctest with TRITIUM_LIB and PYTHONPATH set (CMakeLists.txt)."""
import os
import subprocess
import sys
import tempfile

import tritium

here = os.path.dirname(os.path.abspath(__file__))
shared = os.environ.get("TRITIUM_SHARED", os.path.join(here, "..", "..", "shared"))
source = os.path.join(shared, "models", "stories260K", "stories260K.bin")
binary = os.environ.get("TRITIUM_BINARY",
                        os.path.join(os.path.dirname(os.environ.get("TRITIUM_LIB", "")), "tritium"))
if not os.path.exists(source):
    print(f"SKIPPED: shared asset missing: {source} (set TRITIUM_SHARED)")
    sys.exit(77)

failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        failures.append(what)


with tempfile.TemporaryDirectory() as tmp:
    out = os.path.join(tmp, "stories-ptqtp.gguf")
    tok = os.path.join(shared, "models", "stories260K", "tok512.model")
    tritium.quantize(source, out, method="ptqtp", planes=2, group=64, threads=2, tokenizer=tok)
    check(os.path.getsize(out) > 0, "quantize wrote " + out)

    with tritium.Model(out, threads=2) as m:
        check(m.vocab_size == 512, f"vocab_size is 512 ({m.vocab_size})")
        prompt = "Once upon a time"
        ids = m.tokenize(prompt)
        check(ids[0] == 1 and len(ids) > 2, f"tokenize adds BOS: {ids}")
        check(m.detokenize(ids) == prompt, "detokenize(tokenize(text)) == text")

        s = m.session(max_context=128)
        logits = s.forward(ids)
        check(len(logits) == 512 and s.position == len(ids), "forward returns vocab logits")
        first = max(range(512), key=lambda i: (logits[i], -i))

        pieces = []
        text = m.generate(prompt, max_tokens=24, temperature=0, on_text=pieces.append)
        check(len(text) > 0 and "".join(pieces) == text, "generate streams its text")
        one = m.generate(prompt, max_tokens=1, temperature=0)
        check(m.detokenize(ids + [first]) == prompt + one,
              f"the first generated token is the forward pass's argmax ({first}: {one!r})")
        again = m.generate(prompt, max_tokens=24, temperature=0)
        check(again == text, "greedy generation is deterministic")
        stopped = m.generate(prompt, max_tokens=24, temperature=0, on_text=lambda p: True)
        check(len(stopped) <= len(text), "returning True from on_text stops generation")

        if os.path.exists(binary):
            cli = subprocess.run([binary, "run", out, "-p", prompt, "-n", "24", "--temp", "0",
                                  "-t", "2"], capture_output=True, text=True)
            check(cli.returncode == 0 and cli.stdout.startswith(prompt) and
                  cli.stdout[len(prompt):].rstrip("\n") == text,
                  "the CLI generates the same text from the same file")
        else:
            print(f"SKIPPED: CLI comparison ({binary} not found)")

    try:
        tritium.Model(os.path.join(tmp, "missing.gguf"))
        check(False, "loading a missing file raises")
    except tritium.Error as e:
        check("missing.gguf" in str(e) and e.status != 0, f"missing file raises Error: {e}")
    try:
        tritium.quantize(source, os.path.join(tmp, "x.gguf"), method="nonsense")
        check(False, "an unknown method raises")
    except tritium.Error as e:
        check("nonsense" in str(e), f"unknown method raises Error: {e}")
    check(not os.path.exists(os.path.join(tmp, "x.gguf")), "a failed quantize leaves no file")

print(f"python_api_test: {len(failures)} failed")
sys.exit(1 if failures else 0)
