"""Every scalar of a JSON document, and one edit of each: for the tests that edit metadata
and manifests one field at a time (tests/test_cache_trust.py, tests/test_bundle_trust.py)."""

from __future__ import annotations


def leaves(data, path=()):
    """(path, value) of every scalar in nested dicts and lists."""
    if isinstance(data, dict):
        for k, v in data.items():
            yield from leaves(v, (*path, k))
    elif isinstance(data, list):
        for k, v in enumerate(data):
            yield from leaves(v, (*path, k))
    else:
        yield path, data


def edited(value):
    """Another value of the same kind: lanes 8 -> 4, out_dim 1 -> 2, a string changed."""
    if isinstance(value, bool) or value is None:
        return 1
    if isinstance(value, int | float):
        return value // 2 if value > 1 else value + 1
    return value[:-1] + ("x" if value[-1:] != "x" else "y") if value else "x"


def set_at(data, path, value) -> None:
    for k in path[:-1]:
        data = data[k]
    data[path[-1]] = value
