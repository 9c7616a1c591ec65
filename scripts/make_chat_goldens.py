#!/usr/bin/env python3
"""Renders the chat-template goldens (tests/data/chat/goldens.json) with Jinja2, configured as
transformers' apply_chat_template configures it (sandboxed, trim_blocks, lstrip_blocks,
loopcontrols, raise_exception). The templates are the models' own text: tests/data/chat/*.jinja
(Llama-2-chat, Llama-3-Instruct, Qwen2-Instruct, plain ChatML) and Qwen3's from
../shared/tokenizers/qwen3/tokenizer_config.json. Needs python3-jinja2 (Debian); the C++ test
(src/model/chat_template_test.cc) only reads the JSON.

  python3 scripts/make_chat_goldens.py [SHARED_DIR]
"""
import json
import os
import sys

from jinja2.exceptions import TemplateError
from jinja2.ext import loopcontrols
from jinja2.sandbox import ImmutableSandboxedEnvironment

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = sys.argv[1] if len(sys.argv) > 1 else os.environ.get(
    "TRITIUM_SHARED", os.path.join(ROOT, "..", "shared"))


class RaisedError(Exception):
    pass


def raise_exception(message):
    raise RaisedError(message)


def env():
    e = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                      extensions=[loopcontrols])
    e.globals["raise_exception"] = raise_exception
    e.filters["tojson"] = lambda x, **kw: json.dumps(x, ensure_ascii=False)
    return e


def U(c):
    return {"role": "user", "content": c}


def A(c):
    return {"role": "assistant", "content": c}


def S(c):
    return {"role": "system", "content": c}


CONVERSATIONS = [
    [U("Hello!")],
    [S("You are terse."), U("What is 2+2?")],
    [U("Hi"), A("Hello! How can I help?"), U("Tell me a joke.")],
    [S("Be kind."), U("  spaced out \n"), A(" Sure thing.\n\n"), U("And again\t")],
    [U("Olá, ça va? 日本語 🙂")],
    [S(""), U("empty system")],
    [U("multi\nline\n\nmessage"), A("ok")],
    [U("Solve it"), A("<think>\nStep one.\nStep two.\n</think>\n\nThe answer is 4."),
     U("And twice that?")],
    [U("Solve it"), A("<think>\nreasoning here\n</think>\n\nFour.")],
    [U("q1"), A("a1"), U("q2"), A("a2")],
    [S("sys"), U("q"), S("late system note"), U("q2")],
    [U("first"), U("second")],
    [A("assistant first")],
]


def render(template, messages, add_generation_prompt, enable_thinking, bos, eos):
    t = env().from_string(template)
    return t.render(messages=messages, add_generation_prompt=add_generation_prompt,
                    enable_thinking=enable_thinking, bos_token=bos, eos_token=eos)


def main():
    templates = []
    for name, bos, eos in [("llama2", "<s>", "</s>"),
                           ("llama3", "<|begin_of_text|>", "<|eot_id|>"),
                           ("qwen2", "", "<|im_end|>"), ("chatml", "", "<|im_end|>")]:
        with open(os.path.join(ROOT, "tests", "data", "chat", name + ".jinja")) as f:
            templates.append((name, "tests/data/chat/" + name + ".jinja", f.read(), bos, eos))
    qwen3 = os.path.join(SHARED, "tokenizers", "qwen3", "tokenizer_config.json")
    with open(qwen3) as f:
        templates.append(("qwen3", "shared:tokenizers/qwen3/tokenizer_config.json",
                          json.load(f)["chat_template"], "", "<|im_end|>"))
    out = []
    for name, source, text, bos, eos in templates:
        cases = []
        for messages in CONVERSATIONS:
            for agp in (True, False):
                for thinking in ((True, False) if name == "qwen3" else (True,)):
                    case = {"messages": messages, "add_generation_prompt": agp,
                            "enable_thinking": thinking}
                    try:
                        case["text"] = render(text, messages, agp, thinking, bos, eos)
                    except (RaisedError, TemplateError) as e:
                        case["error"] = str(e)
                    cases.append(case)
        out.append({"template": name, "source": source, "bos_token": bos, "eos_token": eos,
                    "cases": cases})
    path = os.path.join(ROOT, "tests", "data", "chat", "goldens.json")
    with open(path, "w") as f:
        json.dump(out, f, ensure_ascii=False, indent=1)
        f.write("\n")
    print(f"{path}: {sum(len(t['cases']) for t in out)} cases")


if __name__ == "__main__":
    main()
