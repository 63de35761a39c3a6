"""JSON for the fact pipeline (worker -> engine -> cache -> rules), via orjson.

Each TU's facts are ~15 kB of small objects; a cold run encodes all of them
once in the worker and the engine reuses those bytes for the cache entry, a
warm run decodes them.  Measured on the 913 wasip3-coop entries (15 MB):
decode 0.12 s with orjson vs 0.17 s with ``json``, encode 0.03 s vs 0.18 s,
and the worker's bytes replace a pickle round trip (0.25 s to unpickle).

orjson only accepts valid UTF-8 text; a string that is not (a lone surrogate
from an undecodable path) falls back to the standard library, which escapes
it, and so does decoding such a document.
"""
from __future__ import annotations

import json

import orjson

DecodeError = (ValueError, TypeError)      # orjson.JSONDecodeError is a ValueError


def dumps(obj) -> bytes:
    try:
        return orjson.dumps(obj)
    except TypeError:                       # orjson.JSONEncodeError
        return json.dumps(obj, separators=(",", ":")).encode("ascii")


def loads(raw: bytes):
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return json.loads(raw)
