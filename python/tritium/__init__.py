"""Python bindings of tritium's C API (include/tritium/tritium.h), with ctypes: no compiled
extension, so any Python 3 finds libtritium.so through TRITIUM_LIB, the installed library, or the
default loader path.

    import tritium
    tritium.quantize("model_dir", "model.gguf", method="ptqtp", planes=2)
    with tritium.Model("model.gguf") as m:
        print(m.generate("Once upon a time", max_tokens=32, temperature=0))

Errors raise tritium.Error, whose message names the file and the problem and whose .status is the
C API's code.
"""
import ctypes
import ctypes.util
import os

__all__ = ["Error", "Model", "Session", "quantize", "version"]


def _load():
    candidates = []
    if os.environ.get("TRITIUM_LIB"):
        candidates.append(os.environ["TRITIUM_LIB"])
    here = os.path.dirname(os.path.abspath(__file__))
    # Installed beside lib/python3/dist-packages/tritium: <prefix>/lib/libtritium.so.
    candidates.append(os.path.join(here, "..", "..", "..", "libtritium.so"))
    found = ctypes.util.find_library("tritium")
    if found:
        candidates.append(found)
    candidates.append("libtritium.so")
    errors = []
    for path in candidates:
        try:
            return ctypes.CDLL(path)
        except OSError as e:
            errors.append(f"{path}: {e}")
    raise ImportError("cannot load libtritium.so (set TRITIUM_LIB): " + "; ".join(errors))


_lib = _load()
_c_int32_p = ctypes.POINTER(ctypes.c_int32)
_TEXT_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p)


class _GenerateParams(ctypes.Structure):
    _fields_ = [("struct_size", ctypes.c_size_t), ("max_tokens", ctypes.c_int32),
                ("temperature", ctypes.c_float), ("top_k", ctypes.c_int32),
                ("top_p", ctypes.c_float), ("min_p", ctypes.c_float),
                ("repeat_penalty", ctypes.c_float), ("seed", ctypes.c_uint64),
                ("add_bos", ctypes.c_int), ("ignore_eos", ctypes.c_int)]


class _QuantizeParams(ctypes.Structure):
    _fields_ = [("struct_size", ctypes.c_size_t), ("method", ctypes.c_char_p),
                ("planes", ctypes.c_int32), ("bits", ctypes.c_int32), ("group", ctypes.c_int32),
                ("n_threads", ctypes.c_int32), ("calib_path", ctypes.c_char_p),
                ("calib_seqs", ctypes.c_int32), ("tokenizer_path", ctypes.c_char_p)]


def _sig(name, restype, *argtypes):
    f = getattr(_lib, name)
    f.restype = restype
    f.argtypes = list(argtypes)
    return f


_P = ctypes.c_void_p
_last_error = _sig("tritium_last_error", ctypes.c_char_p)
_version = _sig("tritium_version", ctypes.c_char_p)
_model_load = _sig("tritium_model_load", ctypes.c_int, ctypes.c_char_p, ctypes.c_int,
                   ctypes.POINTER(_P))
_model_load_tok = _sig("tritium_model_load_with_tokenizer", ctypes.c_int, ctypes.c_char_p,
                       ctypes.c_char_p, ctypes.c_int, ctypes.POINTER(_P))
_model_free = _sig("tritium_model_free", None, _P)
_vocab_size = _sig("tritium_model_vocab_size", ctypes.c_int32, _P)
_context_length = _sig("tritium_model_context_length", ctypes.c_int32, _P)
_tokenize = _sig("tritium_tokenize", ctypes.c_int, _P, ctypes.c_char_p, ctypes.c_int, _c_int32_p,
                 ctypes.c_int32, _c_int32_p)
_detokenize = _sig("tritium_detokenize", ctypes.c_int, _P, _c_int32_p, ctypes.c_int32,
                   ctypes.POINTER(ctypes.c_void_p))
_free_string = _sig("tritium_free_string", None, ctypes.c_void_p)
_session_new = _sig("tritium_session_new", ctypes.c_int, _P, ctypes.c_int32, ctypes.POINTER(_P))
_session_free = _sig("tritium_session_free", None, _P)
_session_reset = _sig("tritium_session_reset", None, _P)
_session_position = _sig("tritium_session_position", ctypes.c_int32, _P)
_forward = _sig("tritium_forward", ctypes.c_int, _P, _c_int32_p, ctypes.c_int32,
                ctypes.POINTER(ctypes.c_float))
_generate_defaults = _sig("tritium_generate_default_params", _GenerateParams)
_generate = _sig("tritium_generate", ctypes.c_int, _P, ctypes.c_char_p,
                 ctypes.POINTER(_GenerateParams), _TEXT_CALLBACK, ctypes.c_void_p,
                 ctypes.POINTER(ctypes.c_void_p), _c_int32_p)
_quantize_defaults = _sig("tritium_quantize_default_params", _QuantizeParams)
_quantize = _sig("tritium_quantize", ctypes.c_int, ctypes.c_char_p, ctypes.c_char_p,
                 ctypes.POINTER(_QuantizeParams))

CANCELLED = 7


class Error(RuntimeError):
    def __init__(self, status, message):
        super().__init__(message)
        self.status = status


def _check(status):
    if status != 0:
        raise Error(status, _last_error().decode("utf-8", "replace"))


def _take_string(ptr):
    try:
        return ctypes.string_at(ptr).decode("utf-8", "replace") if ptr else ""
    finally:
        _free_string(ptr)


def version():
    return _version().decode()


class Model:
    """A loaded model (Hugging Face directory, GGUF, or llama2.c file)."""

    def __init__(self, path, threads=0, tokenizer=None):
        self._h = _P()
        tok = os.fsencode(tokenizer) if tokenizer else None
        _check(_model_load_tok(os.fsencode(path), tok, threads, ctypes.byref(self._h)))

    def close(self):
        if self._h:
            _model_free(self._h)
            self._h = _P()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        self.close()

    @property
    def vocab_size(self):
        return _vocab_size(self._h)

    @property
    def context_length(self):
        return _context_length(self._h)

    def tokenize(self, text, add_bos=True):
        n = ctypes.c_int32()
        cap = len(text.encode()) + 8
        while True:
            buf = (ctypes.c_int32 * cap)()
            status = _tokenize(self._h, text.encode(), int(add_bos), buf, cap, ctypes.byref(n))
            if status == 0:
                return list(buf[:n.value])
            if n.value <= cap:
                _check(status)
            cap = n.value

    def detokenize(self, ids):
        arr = (ctypes.c_int32 * len(ids))(*ids)
        out = ctypes.c_void_p()
        _check(_detokenize(self._h, arr, len(ids), ctypes.byref(out)))
        return _take_string(out.value)

    def session(self, max_context=0):
        return Session(self, max_context)

    def generate(self, prompt, max_tokens=128, temperature=0.8, top_k=40, top_p=0.95, min_p=0.0,
                 repeat_penalty=1.0, seed=0, add_bos=True, ignore_eos=False, on_text=None):
        """Generates from raw text (no chat template). on_text(piece) receives the text as it
        becomes final; returning True from it stops generation early."""
        p = _generate_defaults()
        p.max_tokens, p.temperature, p.top_k, p.top_p = max_tokens, temperature, top_k, top_p
        p.min_p, p.repeat_penalty, p.seed = min_p, repeat_penalty, seed
        p.add_bos, p.ignore_eos = int(add_bos), int(ignore_eos)
        raised = []

        def cb(ptr, n, _user):
            if on_text is None:
                return 0
            try:
                return 1 if on_text(ctypes.string_at(ptr, n).decode("utf-8", "replace")) else 0
            except BaseException as e:  # an exception must not unwind through C
                raised.append(e)
                return 1

        out = ctypes.c_void_p()
        status = _generate(self._h, prompt.encode(), ctypes.byref(p), _TEXT_CALLBACK(cb), None,
                           ctypes.byref(out), None)
        text = _take_string(out.value)
        if raised:
            raise raised[0]
        if status not in (0, CANCELLED):
            _check(status)
        return text


class Session:
    """A KV cache over a model: feed tokens, read the last token's logits."""

    def __init__(self, model, max_context=0):
        self._model = model
        self._h = _P()
        _check(_session_new(model._h, max_context, ctypes.byref(self._h)))

    def close(self):
        if self._h:
            _session_free(self._h)
            self._h = _P()

    def __del__(self):
        self.close()

    def reset(self):
        _session_reset(self._h)

    @property
    def position(self):
        return _session_position(self._h)

    def forward(self, ids):
        """Feeds ids after the cached ones; returns the last one's logits as a list of floats."""
        arr = (ctypes.c_int32 * len(ids))(*ids)
        logits = (ctypes.c_float * self._model.vocab_size)()
        _check(_forward(self._h, arr, len(ids), logits))
        return list(logits)


def quantize(input, output, method="ptqtp", planes=2, bits=4, group=128, threads=0,
             calib_path=None, calib_seqs=64, tokenizer=None):
    """Quantizes a model into a tritium GGUF file (as `tritium quantize`)."""
    p = _quantize_defaults()
    p.method = method.encode()
    p.planes, p.bits, p.group, p.n_threads = planes, bits, group, threads
    p.calib_path = os.fsencode(calib_path) if calib_path else None
    p.calib_seqs = calib_seqs
    p.tokenizer_path = os.fsencode(tokenizer) if tokenizer else None
    _check(_quantize(os.fsencode(input), os.fsencode(output), ctypes.byref(p)))
