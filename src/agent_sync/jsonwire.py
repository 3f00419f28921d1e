"""JSON for the hook path, without importing the `json` package.

`json` imports `re` (its decoder and encoder compile regular expressions when imported), and `re` with
`enum` costs a hook process about half of a bare interpreter start. `json` does its real work in the C
accelerator `_json`, which needs neither, so the hook path calls it directly. Where `_json` is missing
(another Python implementation), these are plain `json.loads` and `json.dumps`.
"""

try:
    import _json
except ImportError:  # pragma: no cover - CPython always has it
    _json = None

_SPACE = " \t\n\r"
_CONSTANTS = {"NaN": float("nan"), "Infinity": float("inf"), "-Infinity": float("-inf")}


class _Decoding:
    """The settings `_json.make_scanner` reads: those of `json.loads` with no arguments."""

    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    parse_constant = _CONSTANTS.__getitem__


_scan = _json.make_scanner(_Decoding()) if _json is not None else None


def loads(data: bytes | str):
    """`json.loads`: ValueError (UnicodeDecodeError included) for anything that is not one JSON document."""
    if _scan is None:
        import json

        return json.loads(data)
    if isinstance(data, bytes | bytearray):
        if len(data) < 2 or not data[0] or not data[1] or data[:2] in (b"\xef\xbb", b"\xff\xfe", b"\xfe\xff"):
            import json  # a byte-order mark, UTF-16 or UTF-32: rare, and json knows them all

            return json.loads(data)
        text = data.decode("utf-8", "surrogatepass")  # as json.loads decodes UTF-8
    else:
        text = data
    start = len(text) - len(text.lstrip(_SPACE))
    try:
        value, end = _scan(text, start)
    except StopIteration as exc:
        raise ValueError(f"expecting a JSON value at character {exc.value}") from None
    if text[end:].strip(_SPACE):
        raise ValueError(f"extra data after the JSON value at character {end}")
    return value


def _unsupported(obj):
    raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable")


def dumps(obj, *, ensure_ascii: bool = True) -> str:
    """`json.dumps` with its default separators."""
    if _json is None:
        import json

        return json.dumps(obj, ensure_ascii=ensure_ascii)
    quote = _json.encode_basestring_ascii if ensure_ascii else _json.encode_basestring
    encode = _json.make_encoder({}, _unsupported, quote, None, ": ", ", ", False, False, True)
    return "".join(encode(obj, 0))
