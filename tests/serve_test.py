#!/usr/bin/env python3
"""`tritium serve` end to end, with Python's standard library as the client: the OpenAI response
shapes, server-sent-event framing, error objects for bad requests, the API key, a bounded load
test (200 requests from 16 concurrent clients; none lost, none malformed) and a clean shutdown.

  python3 tests/serve_test.py --binary build/tritium [--requests 200 --clients 16] [--report F]

Exits 77 (skipped, loudly) when ../shared's stories260K is absent.
"""
import argparse
import concurrent.futures
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.environ.get("TRITIUM_SHARED", os.path.join(ROOT, "..", "shared"))
MODEL = os.path.join(SHARED, "models", "stories260K", "stories260K.bin")
TOKENIZER = os.path.join(SHARED, "models", "stories260K", "tok512.bin")

failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what, flush=True)


class Server:
    def __init__(self, binary, *extra):
        self.proc = subprocess.Popen(
            [binary, "serve", MODEL, "--tokenizer", TOKENIZER, "--port", "0", "-t", "2", *extra],
            stderr=subprocess.PIPE, text=True)
        self.port = None
        deadline = time.time() + 30
        while time.time() < deadline:
            line = self.proc.stderr.readline()
            if not line:
                break
            m = re.search(r"serving '.*' on http://127\.0\.0\.1:(\d+)", line)
            if m:
                self.port = int(m.group(1))
                break
        if self.port is None:
            self.proc.kill()
            raise SystemExit("server did not start")

    def url(self, path):
        return f"http://127.0.0.1:{self.port}{path}"

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = None
        rest = self.proc.stderr.read()
        return rc, rest


def request(url, body=None, raw=None, headers=None, timeout=60):
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    req = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json",
                                                          **(headers or {})})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.headers.get("Content-Type", ""), r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type", ""), e.read().decode()


def parse_sse(text):
    """Events of a server-sent-event stream; checks the framing as it goes."""
    check(text.endswith("data: [DONE]\n\n"), "stream ends with data: [DONE]")
    events = text.split("\n\n")
    check(events[-1] == "", "stream ends with a blank line")
    out = []
    for ev in events[:-1]:
        check(ev.startswith("data: ") and "\n" not in ev, f"event framing: {ev[:80]!r}")
        payload = ev[len("data: "):]
        if payload == "[DONE]":
            continue
        out.append(json.loads(payload))
    return out


def is_error(status, body, want_status, want_code=None):
    try:
        err = json.loads(body)["error"]
    except (ValueError, KeyError, TypeError):
        return False
    ok = status == want_status and isinstance(err.get("message"), str) and err["message"]
    ok = ok and "type" in err and "param" in err and "code" in err
    return ok and (want_code is None or err["code"] == want_code)


def functional(binary):
    s = Server(binary)
    try:
        st, ct, body = request(s.url("/health"))
        check(st == 200 and json.loads(body)["status"] == "ok", "/health")
        st, ct, body = request(s.url("/v1/models"))
        models = json.loads(body)
        check(st == 200 and models["object"] == "list" and models["data"][0]["id"] ==
              "stories260K.bin", "/v1/models")
        chat = {"model": "stories260K.bin", "messages": [{"role": "user", "content": "Hi"}],
                "max_tokens": 24, "temperature": 0}
        st, ct, body = request(s.url("/v1/chat/completions"), chat)
        r = json.loads(body)
        check(st == 200 and ct.startswith("application/json"), "chat: 200 JSON")
        check(r["object"] == "chat.completion" and r["id"].startswith("chatcmpl-"), "chat: object")
        c = r["choices"][0]
        check(c["message"]["role"] == "assistant" and isinstance(c["message"]["content"], str),
              "chat: message")
        check(c["finish_reason"] in ("stop", "length"), "chat: finish_reason")
        u = r["usage"]
        check(u["prompt_tokens"] > 0 and 0 < u["completion_tokens"] <= 24 and
              u["total_tokens"] == u["prompt_tokens"] + u["completion_tokens"], "chat: usage")
        # The same request streamed: same text, proper chunks.
        st, ct, body = request(s.url("/v1/chat/completions"),
                               {**chat, "stream": True, "stream_options": {"include_usage": True}})
        check(st == 200 and ct.startswith("text/event-stream"), "chat stream: 200 event-stream")
        events = parse_sse(body)
        check(all(e["object"] == "chat.completion.chunk" and e["id"] == events[0]["id"]
                  for e in events), "chat stream: chunk objects share an id")
        check(events[0]["choices"][0]["delta"].get("role") == "assistant", "chat stream: role first")
        text = "".join(e["choices"][0]["delta"].get("content", "") for e in events if e["choices"])
        check(text == c["message"]["content"], "chat stream: same text as non-streaming")
        fins = [e["choices"][0]["finish_reason"] for e in events if e["choices"]]
        check(fins[-1] == c["finish_reason"] and all(f is None for f in fins[:-1]),
              "chat stream: finish_reason on the last chunk only")
        check(events[-1]["choices"] == [] and events[-1]["usage"] == u, "chat stream: usage chunk")
        # Completions, both ways; a stop string ends the text before it.
        comp = {"prompt": "Once upon a time", "max_tokens": 30, "temperature": 0}
        st, ct, body = request(s.url("/v1/completions"), comp)
        r = json.loads(body)
        check(st == 200 and r["object"] == "text_completion", "completion: object")
        full = r["choices"][0]["text"]
        check(len(full) > 20, "completion: text")
        st, ct, body = request(s.url("/v1/completions"), {**comp, "stream": True})
        events = parse_sse(body)
        check("".join(e["choices"][0]["text"] for e in events) == full,
              "completion stream: same text")
        stop = full[10:16]
        st, ct, body = request(s.url("/v1/completions"), {**comp, "stop": [stop]})
        r = json.loads(body)
        check(r["choices"][0]["text"] == full[:full.find(stop)] and
              r["choices"][0]["finish_reason"] == "stop", "completion: stop string")
        # Seeded sampling is reproducible.
        seeded = {**comp, "temperature": 1.0, "seed": 1234}
        a = json.loads(request(s.url("/v1/completions"), seeded)[2])["choices"][0]["text"]
        request(s.url("/v1/completions"), {**comp, "prompt": "Tom had a dog"})
        b = json.loads(request(s.url("/v1/completions"), seeded)[2])["choices"][0]["text"]
        check(a == b, "seeded requests give the same text")
        # Bad requests: an error object, a 4xx, and the server goes on.
        st, _, body = request(s.url("/v1/chat/completions"), raw=b'{"messages": [')
        check(is_error(st, body, 400), f"malformed JSON -> 400 error object ({st} {body[:100]})")
        st, _, body = request(s.url("/v1/chat/completions"), {**chat, "temperature": "hot"})
        check(is_error(st, body, 400), "wrong type -> 400")
        st, _, body = request(s.url("/v1/chat/completions"), {**chat, "messages": "hi"})
        check(is_error(st, body, 400), "messages not a list -> 400")
        st, _, body = request(s.url("/v1/chat/completions"), {**chat, "model": "gpt-4"})
        check(is_error(st, body, 404, "model_not_found"), "unknown model -> 404")
        st, _, body = request(s.url("/v1/completions"),
                              {"prompt": "Once upon a time " * 200, "max_tokens": 8})
        check(is_error(st, body, 400, "context_length_exceeded"), "over-long prompt -> 400")
        st, _, body = request(s.url("/v1/completions"), {"prompt": "x", "max_tokens": 100000})
        check(is_error(st, body, 400, "context_length_exceeded"), "over-long max_tokens -> 400")
        st, _, body = request(s.url("/v1/nothing"), {})
        check(is_error(st, body, 404), "unknown endpoint -> 404")
        st, _, body = request(s.url("/health"))
        check(st == 200, "still serving after bad requests")
    finally:
        rc, rest = s.stop()
        check(rc == 0, f"clean exit on SIGTERM (rc {rc}): {rest[-300:]}")
    # The API key.
    s = Server(binary, "--api-key", "sesame")
    try:
        st, _, body = request(s.url("/v1/models"))
        check(is_error(st, body, 401, "invalid_api_key"), "no key -> 401")
        st, _, body = request(s.url("/v1/models"), headers={"Authorization": "Bearer sesam"})
        check(is_error(st, body, 401), "wrong key -> 401")
        st, _, body = request(s.url("/v1/models"), headers={"Authorization": "Bearer sesame"})
        check(st == 200, "right key -> 200")
    finally:
        rc, _ = s.stop()
        check(rc == 0, "clean exit (api key server)")


def load(binary, n_requests, n_clients, report):
    s = Server(binary)
    prompts = ["Once upon a time", "Tom and Lily", "The little dog", "One day, a bird",
               "Sara had a red ball"]

    def one(i):
        stream = i % 2 == 1
        body = {"prompt": prompts[i % len(prompts)], "max_tokens": 32, "temperature": 0.8,
                "seed": i, "stream": stream, "stream_options": {"include_usage": True}}
        t0 = time.time()
        st, ct, text = request(s.url("/v1/completions"), body, timeout=300)
        dt = time.time() - t0
        if st != 200:
            return ("status", dt, 0)
        try:
            if stream:
                events = parse_sse(text)
                fin = events[-2]["choices"][0]["finish_reason"]
                if fin not in ("stop", "length") or events[-1]["choices"] != []:
                    return ("malformed", dt, 0)
                return ("ok", dt, events[-1]["usage"]["completion_tokens"])
            r = json.loads(text)
            return ("ok", dt, r["usage"]["completion_tokens"])
        except (ValueError, KeyError, IndexError):
            return ("malformed", dt, 0)

    t0 = time.time()
    with concurrent.futures.ThreadPoolExecutor(max_workers=n_clients) as ex:
        results = list(ex.map(one, range(n_requests)))
    wall = time.time() - t0
    rc, _ = s.stop()
    ok = [r for r in results if r[0] == "ok"]
    check(len(results) == n_requests, "load: every request answered")
    check(len(ok) == n_requests, f"load: {n_requests - len(ok)} failed or malformed")
    check(rc == 0, "load: clean exit")
    lat = sorted(r[1] for r in results)
    p50 = statistics.median(lat)
    p99 = lat[min(len(lat) - 1, int(round(0.99 * (len(lat) - 1))))]
    tokens = sum(r[2] for r in results)
    summary = {"requests": n_requests, "clients": n_clients, "ok": len(ok),
               "wall_seconds": round(wall, 3), "requests_per_second": round(n_requests / wall, 2),
               "p50_latency_seconds": round(p50, 4), "p99_latency_seconds": round(p99, 4),
               "completion_tokens": tokens, "completion_tokens_per_second": round(tokens / wall, 1)}
    print("load:", json.dumps(summary), flush=True)
    if report:
        with open(report, "w") as f:
            json.dump(summary, f, indent=1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", required=True)
    ap.add_argument("--requests", type=int, default=200)
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--report")
    a = ap.parse_args()
    if not os.path.exists(MODEL):
        print(f"SKIPPED: {MODEL} not found (set TRITIUM_SHARED)", flush=True)
        return 77
    functional(a.binary)
    load(a.binary, a.requests, a.clients, a.report)
    if failures:
        print(f"{len(failures)} check(s) failed", flush=True)
        return 1
    print("serve_test: all checks passed", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
