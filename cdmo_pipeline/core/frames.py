"""Column helpers shared by every step: Arrow-backed text and fast membership tests.

pandas' own ``isin`` on Arrow strings walks the values in Python; these use pyarrow's kernels
(and a categorical's small dictionary), so a million-row membership test stays a C loop.
"""

from collections.abc import Iterable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

STRING = pd.StringDtype("pyarrow")


def arrow(values: pd.Series) -> pa.Array | pa.ChunkedArray:
    """A text column as Arrow strings (zero-copy for Arrow-backed columns)."""
    if values.dtype == STRING:
        return pa.array(values)
    objects = values.astype(object)
    try:  # Arrow reads the strings and the missing values (None, NaN, NA) in one pass
        return pa.array(objects.to_numpy(dtype=object), type=pa.string(), from_pandas=True)
    except (pa.ArrowTypeError, pa.ArrowInvalid):  # other missing markers (NaT) too
        return pa.array(objects.where(values.notna(), None).to_numpy(dtype=object), type=pa.string())


def text(values: pd.Series | np.ndarray | list) -> pd.Series:
    """An Arrow string column; missing (None, NaN, NA) stays missing."""
    series = values if isinstance(values, pd.Series) else pd.Series(values)
    if series.dtype == STRING:
        return series
    if isinstance(series.dtype, pd.CategoricalDtype):
        # Decode the dictionary in Arrow: no Python string per row.
        return decoded(series.cat.codes.to_numpy(), series.cat.categories, index=series.index)
    try:
        strings = arrow(series)
    except (pa.ArrowTypeError, pa.ArrowInvalid):  # objects other than strings: as their text
        return series.astype(object).where(series.notna(), None).astype(STRING)
    return pd.Series(pd.arrays.ArrowStringArray(strings), index=series.index, name=series.name)


def spread(values: pa.Array | pa.ChunkedArray, at: np.ndarray, index: pd.Index | None = None) -> pd.Series:
    """``values[at]`` as an Arrow string column (``at`` -1: missing): text held once per
    distinct value and spread to rows by integer position, no Python string per row."""
    return pd.Series(pd.array(values.take(pa.array(at, mask=at < 0)), dtype=STRING), index=index)


def decoded(codes: np.ndarray, categories: pd.Index, index: pd.Index | None = None) -> pd.Series:
    """A categorical's text from its codes (-1: missing) and categories, in Arrow."""
    return spread(pa.array(categories.astype(str).to_numpy(dtype=object), pa.string()), codes, index)


def text_rank(values: pd.Index | pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Each value's place in text (code point) order, sorted by Arrow: codes sorted by rank
    sort as their text."""
    if isinstance(values, pd.Index):
        values = pa.array(values.astype(str).to_numpy(dtype=object), pa.string())
    rank = np.empty(len(values), dtype=np.int64)
    rank[pc.sort_indices(values).to_numpy()] = np.arange(len(values))
    return rank


def plain(frame: pd.DataFrame) -> pd.DataFrame:
    """Text columns as Python objects with None: for the few rows where Arrow buys nothing."""
    out = frame.copy()
    for col in out.columns:
        if isinstance(out[col].dtype, pd.StringDtype | pd.CategoricalDtype) or out[col].dtype == object:
            out[col] = out[col].astype(object).where(out[col].notna(), None)
    return out


def isin(values: pd.Series, allowed: Iterable[object] | pd.Series | pd.Index) -> np.ndarray:
    """``values.isin(allowed)`` as a numpy bool array; missing values are never in. An
    ``allowed`` index (unique, no missing values) is hashed once however often it is asked."""
    if isinstance(allowed, pd.Index):

        def found(v: pd.Series | pd.Index) -> np.ndarray:
            return allowed.get_indexer(text(pd.Series(v))) >= 0
    else:
        if isinstance(allowed, pd.Series):
            value_set = pc.cast(arrow(allowed.dropna()), pa.string())
        else:
            value_set = pa.array([str(a) for a in allowed if a is not None], type=pa.string())

        def found(v: pd.Series | pd.Index) -> np.ndarray:
            hit = pc.is_in(pc.cast(arrow(pd.Series(v)), pa.string()), value_set=value_set)
            return pc.fill_null(hit, False).to_numpy(zero_copy_only=False)

    if isinstance(values.dtype, pd.CategoricalDtype):
        # Test the (small) dictionary once, then look each row's code up.
        lookup = np.append(found(values.cat.categories.astype(str)), False)
        codes = values.cat.codes.to_numpy()
        return lookup[np.where(codes < 0, len(lookup) - 1, codes)]
    return found(values)


def to_number(values: pd.Series) -> np.ndarray:
    """Whole numbers written as text (years) as floats; anything else is NaN."""
    arr = pc.cast(arrow(values), pa.string())
    digits = pc.fill_null(pc.match_substring_regex(arr, r"^[0-9]{1,9}$"), False)
    ints = pc.cast(pc.if_else(digits, arr, pa.scalar(None, pa.string())), pa.int64())
    return ints.to_numpy(zero_copy_only=False).astype(float)


def run_starts(*keys: np.ndarray) -> np.ndarray:
    """Where each run of equal keys begins, in rows sorted by those keys."""
    n = len(keys[0]) if keys else 0
    change = np.zeros(n, bool)
    if n:
        change[0] = True
        for key in keys:
            change[1:] |= key[1:] != key[:-1]
    return np.flatnonzero(change)


def run_lengths(starts: np.ndarray, n: int) -> np.ndarray:
    """How many rows each run has (``starts`` from :func:`run_starts` over ``n`` rows)."""
    return np.diff(np.append(starts, n))


def joined_runs(values: pd.Series | np.ndarray, starts: np.ndarray, sep: str) -> pd.Series:
    """Each run of rows (beginning at ``starts``) as one text: its values joined by ``sep`` in
    row order. The rows are cut into a list array and joined in Arrow, no Python per run."""
    flat = pc.cast(arrow(pd.Series(values)), pa.large_string())
    if isinstance(flat, pa.ChunkedArray):
        flat = flat.combine_chunks()
    offsets = pa.array(np.append(starts, len(flat)), pa.int64())
    lists = pa.LargeListArray.from_arrays(offsets, flat)
    return pd.Series(pd.array(pc.binary_join(lists, pa.scalar(sep, pa.large_string())), dtype=STRING))


def ranges(lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every position in each range [lo, hi), and the range it belongs to, as flat arrays."""
    counts = np.maximum(hi - lo, 0)
    owner = np.repeat(np.arange(len(lo)), counts)
    offsets = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    return owner, np.repeat(lo, counts) + offsets
