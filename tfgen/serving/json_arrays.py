"""Decoding a predict request's JSON with bounded memory: large numeric arrays go straight to NumPy.

``json.loads`` turns every JSON number into a Python object and every list
into a Python list: 36 to 68 bytes per value, so a 32 MiB body of pixels
written as ``[0.5],`` (or of empty lists ``[],``) takes about 0.75 GB to
decode. :func:`loads` finds each nested array of numbers of at least
``MIN_ARRAY_BYTES`` in the body (outside strings), cuts it at top-level
commas into pieces of about ``_BLOCK`` bytes, checks each piece against
JSON's grammar and for a regular shape with vectorised NumPy passes over its
bytes, and parses its numbers with NumPy into one array (8 bytes per number,
at most 4 per byte of body since each number takes at least two). Peak
memory is about 4-5x the body (measured: ``benchmarks.serving_memory``).
What remains (the object around the arrays, short arrays, strings,
``{"b64": ...}`` objects) goes to ``json.loads``; it may take at most
``4 * len(body) + 64 MiB`` at an estimated ``BYTES_PER_JSON_VALUE`` per
value, or the request is refused (:class:`TooLargeToDecode`, a 413).

The result equals ``json.loads(body)`` except that each large numeric array
is a NumPy array (int64 when all its numbers are integers, else float64)
instead of nested lists; malformed, ragged or too deeply nested large arrays
raise ``ValueError`` saying why.
"""

import functools
import json
import re
import secrets

import numpy as np

# Numeric arrays shorter than this (bytes of JSON text) are left to json.loads.
MIN_ARRAY_BYTES = 1024
# Estimated memory of one JSON value decoded by json.loads (measured 36-68 bytes).
BYTES_PER_JSON_VALUE = 64
# The json.loads part of a request may take 4 * len(body) + this many bytes (estimated).
DECODE_ALLOWANCE_BYTES = 64 * 1024 * 1024
# Integers with more digits than this may not fit int64: such arrays take the slow path.
MAX_INT_DIGITS = 18

# A JSON string (skipped whole, so arrays inside strings are never touched) or a
# run of the characters a numeric array can hold, starting with '['.
@functools.lru_cache(maxsize=4)
def _runs(min_array_bytes):
    """Runs of the characters a numeric array can hold, starting with '[' (one regex step per run)."""
    return re.compile(rb"\[[\[\]0-9eE+\-.,\s]{%d,}" % max(0, min_array_bytes - 1))


def _unescaped_quotes(body):
    """Sorted positions of the '"' that open or close JSON strings (those not escaped by a backslash).

    Vectorised: a '"' after a run of backslashes is escaped when the run is
    odd. (A regex over whole strings takes seconds and gigabytes for a long
    string full of escapes.)
    """
    raw = np.frombuffer(body, dtype=np.uint8)
    quotes = np.flatnonzero(raw == ord('"'))
    after_backslash = quotes[(quotes > 0) & (raw[np.maximum(quotes - 1, 0)] == ord("\\"))]
    if not len(after_backslash):
        return quotes
    backslashes = raw == ord("\\")
    run_starts = backslashes.copy()
    run_starts[1:] &= ~backslashes[:-1]  # a backslash not after another one starts a run
    run_starts = np.flatnonzero(run_starts)
    del backslashes
    run_start = run_starts[np.searchsorted(run_starts, after_backslash - 1, side="right") - 1]
    escaped = after_backslash[(after_backslash - run_start) % 2 == 1]
    return np.setdiff1d(quotes, escaped, assume_unique=True)


_SEPARATORS = bytes.maketrans(b"[],", b"   ")

# Byte classes: structure, blanks, and the characters of numbers.
_OPEN, _CLOSE, _COMMA, _NUMBER_CODE, _BLANK, _DIGIT, _ZERO, _MINUS, _PLUS, _DOT, _EXP = range(11)
_CLASS = np.full(256, _BLANK, dtype=np.int8)
_CLASS[ord("[")], _CLASS[ord("]")], _CLASS[ord(",")] = _OPEN, _CLOSE, _COMMA
_CLASS[[ord(c) for c in "123456789"]] = _DIGIT
_CLASS[ord("0")], _CLASS[ord("-")], _CLASS[ord("+")], _CLASS[ord(".")] = _ZERO, _MINUS, _PLUS, _DOT
_CLASS[ord("e")] = _CLASS[ord("E")] = _EXP
# Which symbol may follow which inside an array: "[[", "[]", "[n", "]]", "],", ",[", ",n", "n]", "n,".
_ALLOWED = np.zeros((4, 4), dtype=bool)
for _before, _after in [(0, 0), (0, 1), (0, 3), (1, 1), (1, 2), (2, 0), (2, 3), (3, 1), (3, 2)]:
    _ALLOWED[_before, _after] = True
# Which character may follow which inside one number (JSON's grammar, with the counts checked apart).
_NEXT = np.zeros((11, 11), dtype=bool)
for _before, _afters in {
    _DIGIT: (_DIGIT, _ZERO, _DOT, _EXP), _ZERO: (_DIGIT, _ZERO, _DOT, _EXP), _DOT: (_DIGIT, _ZERO),
    _EXP: (_DIGIT, _ZERO, _PLUS, _MINUS), _PLUS: (_DIGIT, _ZERO), _MINUS: (_DIGIT, _ZERO),
}.items():
    _NEXT[_before, list(_afters)] = True


class TooLargeToDecode(ValueError):
    """The request would take more memory to decode than the bound allows."""


_BLOCK = 1 << 20
# Deeper arrays are refused: no tensor has that many dimensions, and depth fits an int8.
MAX_DEPTH = 32
_BLANKS_AFTER_OPEN = re.compile(rb"\[[ \t\n\r]*")
_LONG_INTEGER_TOKEN = re.compile(rb"(?:^|[\s\[,])-?[0-9]{8,}(?=[\s\],])")
_LONG_INTEGER = re.compile(rb"[0-9]{%d}" % (MAX_INT_DIGITS + 1))


def _scan(text):
    """One pass over ``text`` (bytes from a ``[``) in blocks of ``_BLOCK`` bytes.

    Returns:
        ``(close, deepest, cuts)``: the index of the ``]`` that closes the
        array opened at 0 (``None`` if none), the greatest depth before it,
        and the last top-level ``,`` of each block: places to cut the array
        into pieces of about ``_BLOCK`` bytes.
    """
    depth_before, deepest, cuts = 0, 0, []
    for offset in range(0, len(text), _BLOCK):
        block = _CLASS[np.frombuffer(text, dtype=np.uint8, count=min(_BLOCK, len(text) - offset), offset=offset)]
        step = (block == _OPEN).astype(np.int32) - (block == _CLOSE)
        depth = depth_before + np.cumsum(step, dtype=np.int32)
        closed = np.flatnonzero(depth == 0)
        end = int(closed[0]) + 1 if len(closed) else len(block)
        deepest = max(deepest, int(depth[:end].max()))
        top_commas = np.flatnonzero((depth[:end] == 1) & (block[:end] == _COMMA))
        if len(top_commas):
            cuts.append(offset + int(top_commas[-1]))
        if len(closed):
            return offset + int(closed[0]), deepest, cuts
        depth_before = int(depth[-1])
    return None, deepest, cuts


def _owners(parent_positions, child_positions):
    """For each child, the index of the last parent before it."""
    return np.searchsorted(parent_positions, child_positions) - 1


def _check_numbers(classes, starts, ends):
    """``ValueError`` unless every number (``starts``/``ends``: masks of first/last characters) is valid JSON."""
    bad = ValueError("Malformed JSON: an array holds a number JSON does not allow.")
    if not np.isin(classes[starts], (_DIGIT, _ZERO, _MINUS)).all() or not np.isin(classes[ends], (_DIGIT, _ZERO)).all():
        raise bad
    pairs = classes[1:] >= _DIGIT
    pairs &= ~starts[1:]  # consecutive characters of one number
    if not _NEXT[classes[:-1][pairs], classes[1:][pairs]].all():
        raise bad
    del pairs
    # a leading zero ("01", "-01"): a zero that starts the integer part, followed by a digit
    integer_start = starts.copy()
    integer_start[1:] |= starts[:-1] & (classes[:-1] == _MINUS)
    zero_first = np.flatnonzero(integer_start & (classes == _ZERO))
    del integer_start
    zero_first = zero_first[zero_first + 1 < len(classes)]
    if np.isin(classes[zero_first + 1], (_DIGIT, _ZERO)).any():
        raise ValueError("Malformed JSON: a number with a leading zero.")
    # at most one '.' and one exponent per number, the '.' first
    dot_positions, exponent_positions = np.flatnonzero(classes == _DOT), np.flatnonzero(classes == _EXP)
    if not len(dot_positions) and not len(exponent_positions):
        return
    start_positions = np.flatnonzero(starts)
    dot_numbers, exponent_numbers = _owners(start_positions, dot_positions), _owners(start_positions, exponent_positions)
    if (np.diff(dot_numbers) == 0).any() or (np.diff(exponent_numbers) == 0).any():
        raise ValueError("Malformed JSON: a number with two '.' or two exponents.")
    if len(dot_positions) and len(exponent_positions):
        # a '.' after the exponent of its own number
        exponent_before = np.searchsorted(exponent_positions, dot_positions) - 1
        has_one = exponent_before >= 0
        if (exponent_numbers[exponent_before[has_one]] == dot_numbers[has_one]).any():
            raise ValueError("Malformed JSON: a '.' in an exponent.")


def parse_numeric_array(text):
    """The first complete JSON array of numbers in ``text`` (bytes starting with ``[``).

    The array is cut at top-level commas into pieces of about ``_BLOCK``
    bytes, each checked and parsed on its own (a few passes with NumPy), so
    that besides the result the work holds a few bytes per byte of one piece
    (or of one top-level element, when an element is larger).

    Returns:
        ``(array, length)``: the NumPy array (int64 or float64) and the bytes
        of ``text`` it took; ``(None, 0)`` when ``text`` holds no complete
        array (an unclosed one, cut off by a value of another kind) or one
        whose integers may not fit int64: the caller leaves those to ``json``.

    Raises:
        ValueError: a complete array that is not valid JSON, nested more
            than ``MAX_DEPTH`` deep, or ragged.
    """
    close, deepest, cuts = _scan(text)
    if close is None:
        return None, 0
    if deepest > MAX_DEPTH:
        raise ValueError(f"The array is nested {deepest} deep; at most {MAX_DEPTH} levels are accepted.")
    length = close + 1
    if not cuts and length > 2 * _BLOCK:
        # one large element ("[[...]]"): parse it the same way, then add the axis of size 1
        first = _BLANKS_AFTER_OPEN.match(text).end()  # where the element's '[' is
        if text[first:first + 1] == b"[":
            array, inner_length = parse_numeric_array(text[first:close])
            if array is not None and text[first + inner_length:close].strip() == b"":
                return array[np.newaxis], length
    if not cuts or length <= 2 * _BLOCK:
        array = _parse_piece(text[:length])
    else:
        bounds = [0] + cuts + [close]
        pieces = [_parse_piece(b"[" + text[a + 1: b] + b"]") for a, b in zip(bounds[:-1], bounds[1:])]
        if any(piece is None for piece in pieces):
            return None, 0
        if len({piece.shape[1:] for piece in pieces}) > 1:
            raise ValueError("The array is ragged: nested lists at the same depth must have the same length.")
        array = np.concatenate(pieces)
    return (None, 0) if array is None else (array, length)


def _parse_piece(text):
    """``text`` (exactly one JSON array of numbers) as an int64 or float64 array; ``None`` for long integers."""
    close, deepest, _ = _scan(text)
    if close != len(text) - 1:
        raise ValueError("Malformed JSON: unbalanced '[' and ']' in an array.")
    classes = _CLASS[np.frombuffer(text, dtype=np.uint8)]
    starts = classes >= _DIGIT
    ends = starts.copy()
    starts[1:] &= ~ends[:-1]
    ends[:-1] &= classes[1:] < _DIGIT
    # the sequence of symbols: '[', ']', ',' and one per number
    symbols = np.where(starts, np.int8(_NUMBER_CODE), classes)
    symbols = symbols[symbols <= _NUMBER_CODE]
    if not _ALLOWED[symbols[:-1], symbols[1:]].all():
        raise ValueError("Malformed JSON: a misplaced ',', '[' or ']', or numbers not separated by ',' in an array.")
    _check_numbers(classes, starts, ends)
    integer = not ((classes == _DOT) | (classes == _EXP)).any()
    if integer and _LONG_INTEGER.search(text):
        return None  # integers that may not fit int64: json's exact path
    if not integer and _LONG_INTEGER_TOKEN.search(text):
        return None  # an integer among fractions that a float input may not hold exactly: json keeps it an int
    del classes, starts, ends
    symbols = symbols[symbols != _COMMA]
    depth = np.cumsum((symbols == _OPEN).astype(np.int8) - (symbols == _CLOSE), dtype=np.int8)
    numbers = np.flatnonzero(symbols == _NUMBER_CODE)
    if len(numbers) and (depth[numbers] != deepest).any():
        raise ValueError("The array is ragged: numbers and nested lists at the same depth.")
    opens = symbols == _OPEN
    del symbols
    shape = []
    children = np.flatnonzero(opens & (depth == 1))
    for level in range(1, deepest + 1):
        parents = children
        children = np.flatnonzero(opens & (depth == level + 1)) if level < deepest else numbers
        counts = np.bincount(_owners(parents, children), minlength=len(parents))
        if (counts != counts[0]).any():
            raise ValueError("The array is ragged: nested lists at the same depth must have the same length.")
        shape.append(int(counts[0]))
        del counts
    count = len(numbers)
    del depth, opens, numbers, parents, children
    if not count:
        return np.zeros(shape, dtype=np.float64)
    values = np.fromstring(text.translate(_SEPARATORS), dtype=np.int64 if integer else np.float64, sep=" ")
    if values.size != count:
        raise ValueError("Malformed JSON: an array's numbers could not be read.")
    return values.reshape(shape)


def loads(body, min_array_bytes=MIN_ARRAY_BYTES):
    """``json.loads(body)`` with every numeric array of ``MIN_ARRAY_BYTES`` or more as a NumPy array.

    Raises:
        TooLargeToDecode: the rest would exceed the memory bound (see the module docstring).
        ValueError: malformed JSON (``json.JSONDecodeError`` from the rest) or a ragged large array.
    """
    if isinstance(body, str):
        body = body.encode("utf-8")
    marker = secrets.token_hex(8)
    quotes = _unescaped_quotes(body)
    if len(quotes) % 2:
        raise ValueError("Malformed JSON: a string is not closed.")
    arrays, pieces, position = {}, [], 0
    for match in _runs(min_array_bytes).finditer(body):
        start, end = match.start(), match.end()
        if np.searchsorted(quotes, start) % 2:  # inside a string: text, not an array
            continue
        # The run may hold several arrays ("[...], [...]" inside a list that
        # also holds other values): take each complete one in turn.
        while end - start >= min_array_bytes:
            array, length = parse_numeric_array(body[start:end])
            if array is None:
                break
            key = f"tfgen-array:{marker}:{len(arrays)}"
            arrays[key] = array
            pieces += [body[position:start], b'"' + key.encode() + b'"']
            position = start + length
            start = body.find(b"[", position, end)
            if start < 0:
                break
    rest = b"".join(pieces + [body[position:]]) if arrays else body
    values = rest.count(b"[") + rest.count(b"{") + rest.count(b",")
    if values * BYTES_PER_JSON_VALUE > 4 * len(body) + DECODE_ALLOWANCE_BYTES:
        raise TooLargeToDecode(
            f"The request holds about {values} JSON values outside numeric arrays; decoding them would take "
            f"about {values * BYTES_PER_JSON_VALUE / 2**20:.0f} MiB, more than this server allows for a "
            f"{len(body)}-byte body (4 x the body + {DECODE_ALLOWANCE_BYTES // 2**20} MiB). Send large inputs as "
            "arrays of numbers."
        )
    if not arrays:
        return json.loads(rest)
    try:
        decoded = json.loads(rest)
    except json.JSONDecodeError as error:  # its position is in the rest, not in the body
        raise ValueError(f"Malformed JSON: {error.msg}.") from None
    return _restore(decoded, arrays)


def _restore(value, arrays):
    if isinstance(value, str):
        return arrays.get(value, value)
    if isinstance(value, list):
        return [_restore(item, arrays) for item in value]
    if isinstance(value, dict):
        return {key: _restore(item, arrays) for key, item in value.items()}
    return value
