"""Pictures of tokens and matrices for a snippet's output, each with a plain-text twin.

A topic snippet returns (or hands to :func:`~refkit.engine.display.show`) one of three views:

- :func:`token_strip`: tokens in a wrapping strip, each cell showing the token, its character
  span, the characters of the text it covers, its word id and its label(s);
- :func:`matrix_view`: a table-based heatmap (attention weights, masks, dropout patterns);
- :func:`side_by_side`: any views in a row, for pages that compare two of them.

Every view has the same two faces. ``_repr_html_()`` is a compact HTML fragment whose root is
``<div class="refkit-view ...">``, styled by ``refkit.css`` with Material's colour variables, so
it reads in the light and the dark scheme. ``str()`` (and ``repr()``, so a doctest shows it) is
an aligned text table stating the same facts: what doctests check, what the drift check compares
and what a reader's standalone script prints.

Everything shown is escaped. A character that ``str.isprintable`` rejects (control characters,
tab and newline, zero-width and bidirectional-control characters, lone surrogates) is written
as an escape such as ``\\x1b``: in HTML inside a ``<span class="refkit-control">``, in the text
form by showing the value as a Python string literal. Class names come from a fixed set, never
from the data, and the output depends on the arguments only.

The module keeps to the standard library and holds no state, because refkit copies the parts a
snippet uses into the standalone script a reader downloads. Tensors and arrays are accepted
through their ``.tolist()``.
"""

from __future__ import annotations

import html
import math
import numbers
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import groupby
from typing import Any

__all__ = [
    "MatrixView",
    "TokenStrip",
    "ViewRow",
    "matrix_view",
    "side_by_side",
    "token_strip",
]

_IGNORE_INDEX = -100  # torch.nn.CrossEntropyLoss's default ignore_index: dimmed in the strip


# Not text.escapes: this module is copied into readers' downloads on its own (standard library
# only), and a view also shows tab, newline and other unprintable characters as escapes.
def _escapes(chars: str) -> str:
    r"""Characters written as Python escapes (``\t``, ``\n`` and ``\r`` as those).

    Examples:
        >>> print(_escapes("\x1b\t\u200b\ud800"))
        \x1b\t\u200b\ud800
    """
    short = {9: "\\t", 10: "\\n", 13: "\\r"}
    return "".join(
        short.get(code)
        or (
            f"\\x{code:02x}"
            if code < 0x100
            else f"\\u{code:04x}"
            if code < 0x10000
            else f"\\U{code:08x}"
        )
        for code in map(ord, chars)
    )


def _markup(text: str) -> str:
    r"""Text for an HTML element: escaped, unprintable characters as escapes in their own span.

    Examples:
        >>> print(_markup('</s>\x1b[0m "&'))
        &lt;/s&gt;<span class="refkit-control">\x1b</span>[0m &quot;&amp;
    """
    return "".join(
        html.escape(run, quote=True)
        if printable
        else f'<span class="refkit-control">{_escapes(run)}</span>'
        for printable, run in (
            (key, "".join(chars)) for key, chars in groupby(text, str.isprintable)
        )
    )


def _visible(text: str) -> str:
    r"""Text for the text form, unquoted: unprintable characters as escapes (titles, headers).

    Examples:
        >>> print(_visible("Weights\n(head 0)"))
        Weights\n(head 0)
    """
    return "".join(
        run if printable else _escapes(run)
        for printable, run in (
            (key, "".join(chars)) for key, chars in groupby(text, str.isprintable)
        )
    )


def _shown(value: object) -> str:
    r"""A cell of the text form: as it is when that is unambiguous, else as a string literal.

    A string is quoted when it is empty, starts or ends with white space, starts with a quote,
    or holds a backslash or an unprintable character, so the table never hides what is there.

    Examples:
        >>> [_shown(v) for v in ("##ing", "", " Face", "a\x1bb", "\\n", -100, None)]
        ['##ing', "''", "' Face'", "'a\\x1bb'", "'\\\\n'", '-100', 'None']
    """
    if not isinstance(value, str):
        return _visible(str(value))
    plain = (
        value
        and value == value.strip()
        and value[0] not in "'\""
        and "\\" not in value
        and value.isprintable()
    )
    return value if plain else repr(value)


def _width(text: str) -> int:
    """Columns ``text`` takes in a monospaced terminal: wide characters 2, combining marks 0.

    Examples:
        >>> _width("abc"), _width("日本"), _width("é")
        (3, 4, 1)
    """
    return sum(
        0 if unicodedata.combining(char) else 2 if unicodedata.east_asian_width(char) in "WF" else 1
        for char in text
    )


def _table(rows: Sequence[Sequence[str]], right: Sequence[bool]) -> str:
    """Rows as aligned columns two spaces apart, with no trailing spaces.

    Examples:
        >>> print(_table([["a", "bb"], ["ccc", "d"]], [False, True]))
        a    bb
        ccc   d
    """
    widths = [max(_width(row[col]) for row in rows) for col in range(len(rows[0]))]
    lines = []
    for row in rows:
        cells = []
        for cell, width, align_right in zip(row, widths, right, strict=True):
            pad = " " * (width - _width(cell))
            cells.append(pad + cell if align_right else cell + pad)
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def _as_list(value: object, name: str) -> list[Any]:
    """``value`` as a list; a tensor or an array goes through its ``.tolist()``.

    Examples:
        >>> _as_list((1, 2), "labels")
        [1, 2]
        >>> _as_list("abc", "tokens")
        Traceback (most recent call last):
        ...
        TypeError: tokens must be a sequence (a list, a tuple, a tensor), not str
    """
    tolist = getattr(value, "tolist", None)
    if callable(tolist):
        value = tolist()
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        raise TypeError(
            f"{name} must be a sequence (a list, a tuple, a tensor), not {type(value).__name__}"
        )
    return list(value)


def _title_text(title: str | None, body: str) -> str:
    return body if title is None else f"{_visible(title)}\n{body}"


@dataclass(frozen=True, repr=False)
class TokenStrip:
    """Tokens in a strip, each with its span, covered text, word id and labels; see :func:`token_strip`.

    Attributes:
        tokens: The token texts.
        offsets: One ``(start, end)`` character span per token (``None`` for a token without
            one), or ``None`` when not shown.
        word_ids: One word id (an int or ``None``) per token, or ``None`` when not shown.
        labels: ``(row name, labels)`` pairs, one label row each.
        special: Whether each token is a special token, or ``None`` when not shown.
        text: The text the offsets point into, or ``None``.
        title: The heading shown above the strip, or ``None``.
    """

    tokens: tuple[str, ...]
    offsets: tuple[tuple[int, int] | None, ...] | None
    word_ids: tuple[int | None, ...] | None
    labels: tuple[tuple[str, tuple[object, ...]], ...]
    special: tuple[bool, ...] | None
    text: str | None
    title: str | None

    def _rows(self) -> tuple[list[tuple[str, str]], list[list[object]]]:
        """The strip's rows as ``(kind, name)`` (the legend) and, per token, its values."""
        rows = [("index", "#"), ("token", "token")]
        columns: list[Sequence[object]] = [range(len(self.tokens)), self.tokens]
        if self.offsets is not None:
            rows.append(("span", "span"))
            columns.append(
                [None if span is None else f"[{span[0]}, {span[1]})" for span in self.offsets]
            )
            if self.text is not None:
                text = self.text
                rows.append(("text", "text"))
                columns.append(
                    [None if span is None else text[span[0] : span[1]] for span in self.offsets]
                )
        if self.word_ids is not None:
            rows.append(("word", "word id"))
            columns.append(self.word_ids)
        for name, labels in self.labels:
            rows.append(("label", name))
            columns.append(labels)
        return rows, [list(cells) for cells in zip(*columns, strict=True)]

    def __str__(self) -> str:
        """The text form: one line per token, a column per row of the strip."""
        rows_named, cells = self._rows()
        header = [_visible(name) for _, name in rows_named]
        rows = [[_shown(value) for value in token] for token in cells]
        if self.special is not None:
            header.insert(2, "special")
            for row, is_special in zip(rows, self.special, strict=True):
                row.insert(2, "yes" if is_special else "")
        body = _table([header, *rows], [False] * len(header)) if self.tokens else "(no tokens)"
        return _title_text(self.title, body)

    __repr__ = __str__

    def _repr_html_(self) -> str:
        """The strip as HTML: a legend cell naming the rows, then one cell per token."""
        rows, cells = self._rows()
        kinds = [kind for kind, _ in rows]

        def line(kind: str, content: str, value: object = None) -> str:
            if kind == "token":
                return f'<span class="refkit-tok-text">{content}</span>'
            if kind == "text":
                return f'<span class="refkit-covered">{content}</span>'
            if kind == "label" and type(value) is int and value == _IGNORE_INDEX:
                return f'<span class="refkit-ignored">{content}</span>'
            return f"<span>{content}</span>"

        parts = ['<div class="refkit-view refkit-token-strip">']
        if self.title is not None:
            parts.append(f'<div class="refkit-view-title">{_markup(self.title)}</div>')
        if not self.tokens:
            parts.append('<p class="refkit-empty">no tokens</p></div>')
            return "".join(parts)
        parts.append('<div class="refkit-strip"><div class="refkit-tok refkit-legend">')
        parts.extend(line(kind, _markup(name)) for kind, name in rows)
        parts.append("</div>")
        for index, values in enumerate(cells):
            if self.special is not None and self.special[index]:
                parts.append('<div class="refkit-tok refkit-special" title="special token">')
            else:
                parts.append('<div class="refkit-tok">')
            for kind, value in zip(kinds, values, strict=True):
                shown = value if isinstance(value, str) else str(value)
                parts.append(line(kind, _markup(shown), value))
            parts.append("</div>")
        parts.append("</div></div>")
        return "".join(parts)


def _offsets(value: object, count: int, text: str | None) -> tuple[tuple[int, int] | None, ...]:
    spans: list[tuple[int, int] | None] = []
    for index, span in enumerate(_as_list(value, "offsets")):
        if span is None:
            spans.append(None)
            continue
        pair = _as_list(span, f"offsets[{index}]")
        if len(pair) != 2 or not all(
            isinstance(n, numbers.Integral) and not isinstance(n, bool) for n in pair
        ):
            raise ValueError(f"offsets[{index}] must be a (start, end) pair of ints, got {span!r}")
        start, end = int(pair[0]), int(pair[1])
        if not 0 <= start <= end:
            raise ValueError(
                f"offsets[{index}] = ({start}, {end}) is not a span: need 0 <= start <= end"
            )
        if text is not None and end > len(text):
            raise ValueError(
                f"offsets[{index}] = ({start}, {end}) reaches past the end of text ({len(text)} characters)"
            )
        spans.append((start, end))
    return _same_length(tuple(spans), count, "offsets")


def _same_length(values: tuple[Any, ...], count: int, name: str) -> tuple[Any, ...]:
    if len(values) != count:
        raise ValueError(f"{name} has {len(values)} entries but there are {count} tokens")
    return values


def token_strip(
    tokens: object,
    *,
    offsets: object = None,
    word_ids: object = None,
    labels: object = None,
    special: object = None,
    text: str | None = None,
    title: str | None = None,
) -> TokenStrip:
    r"""Show tokens in a wrapping strip, one cell per token with what a tokenizer says about it.

    Each cell shows, from top to bottom, the token's position, its text, and then whichever
    of these are given: its character span ``[start, end)``, the characters of ``text`` that
    span covers, its word id, and one row per label sequence. A legend cell at the start of the
    strip names the rows. Special tokens get a dashed, shaded cell (and a ``special`` column
    in the text form): only when ``special`` says so, never guessed from a ``(0, 0)`` span.
    A label equal to ``-100`` (the loss's ``ignore_index``) is dimmed.

    To compare labelling rules on the same tokens, pass ``labels`` as a mapping from rule
    name to labels: each rule becomes its own row (a column of the text form), so the rules
    sit one above the other in every cell.

    Args:
        tokens: The token texts (``encoding.tokens()``); anything that is no ``str`` is shown
            by its ``str``.
        offsets: One ``(start, end)`` pair per token (``encoding["offset_mapping"]``, a tensor
            of shape ``(T, 2)``), or ``None`` per token without one.
        word_ids: One word id per token (``encoding.word_ids()``), ``None`` for no word.
        labels: One label per token, or a mapping ``{row name: labels}`` for several rows.
        special: One flag per token, true for special tokens (a ``special_tokens_mask`` of
            0 and 1 will do).
        text: The string the offsets point into; needs ``offsets``. Only meaningful when the
            offsets count from the start of one string (not with ``is_split_into_words=True``).
        title: A heading above the strip.

    Returns:
        The view; ``str()`` of it is the text form.

    Raises:
        TypeError: When an argument is not a sequence.
        ValueError: When a sequence has another length than ``tokens``, a span is not a valid
            ``(start, end)`` pair, or ``text`` comes without ``offsets``.

    Examples:
        >>> token_strip(
        ...     ["[CLS]", "hu", "##g", "f", "[SEP]"],
        ...     offsets=[(0, 0), (0, 2), (2, 3), (8, 9), (0, 0)],
        ...     word_ids=[None, 0, 0, 1, None],
        ...     labels=[-100, 1, -100, 2, -100],
        ...     special=[1, 0, 0, 0, 1],
        ...     text="Hugging Face",
        ... )
        #  token  special  span    text  word id  label
        0  [CLS]  yes      [0, 0)  ''    None     -100
        1  hu              [0, 2)  Hu    0        1
        2  ##g             [2, 3)  g     0        -100
        3  f               [8, 9)  F     1        2
        4  [SEP]  yes      [0, 0)  ''    None     -100

        Two labelling rules, one row each:

        >>> token_strip(
        ...     ["sub", "-", "word"],
        ...     labels={"first sub-token": [0, -100, -100], "every sub-token": [0, 0, 0]},
        ...     title="sub-word",
        ... )
        sub-word
        #  token  first sub-token  every sub-token
        0  sub    0                0
        1  -      -100             0
        2  word   -100             0
    """
    token_texts = tuple(t if isinstance(t, str) else str(t) for t in _as_list(tokens, "tokens"))
    count = len(token_texts)
    if text is not None and offsets is None:
        raise ValueError("text needs offsets: the spans say which characters each token covers")
    if text is not None and not isinstance(text, str):
        raise TypeError(f"text must be a str, not {type(text).__name__}")
    spans = None if offsets is None else _offsets(offsets, count, text)
    words = None
    if word_ids is not None:
        words = _same_length(tuple(_as_list(word_ids, "word_ids")), count, "word_ids")
        for index, word in enumerate(words):
            if word is not None and (
                not isinstance(word, numbers.Integral) or isinstance(word, bool)
            ):
                raise ValueError(f"word_ids[{index}] must be an int or None, got {word!r}")
        words = tuple(None if word is None else int(word) for word in words)
    rows: list[tuple[str, tuple[object, ...]]] = []
    if isinstance(labels, Mapping):
        for name, row in labels.items():
            rows.append(
                (
                    str(name),
                    _same_length(
                        tuple(_as_list(row, f"labels[{name!r}]")), count, f"labels[{name!r}]"
                    ),
                )
            )
    elif labels is not None:
        rows.append(("label", _same_length(tuple(_as_list(labels, "labels")), count, "labels")))
    flags = None
    if special is not None:
        flags = tuple(
            bool(flag)
            for flag in _same_length(tuple(_as_list(special, "special")), count, "special")
        )
    return TokenStrip(token_texts, spans, words, tuple(rows), flags, text, title)


@dataclass(frozen=True, repr=False)
class MatrixView:
    """A heatmap table of a 2-D matrix; see :func:`matrix_view`.

    Attributes:
        values: The rows of numbers (``int``, ``float`` or ``bool``).
        cells: The printed form of each value.
        columns: How many columns (the rows may be zero).
        row_labels: One label per row.
        col_labels: One label per column.
        value_range: The values shaded empty and full.
        title: The table's caption, or ``None``.
        caption: A sentence shown below the table, or ``None``.
    """

    values: tuple[tuple[int | float | bool, ...], ...]
    cells: tuple[tuple[str, ...], ...]
    columns: int
    row_labels: tuple[str, ...]
    col_labels: tuple[str, ...]
    value_range: tuple[float, float]
    title: str | None
    caption: str | None

    def _empty(self) -> str:
        rows = len(self.values)
        return (
            f"empty matrix ({rows} row{'' if rows == 1 else 's'}, 0 columns)"
            if rows
            else "empty matrix (0 rows)"
        )

    def __str__(self) -> str:
        """The text form: the numbers in an aligned table under their labels."""
        if not self.columns:
            body = self._empty()
        else:
            rows = [["", *(_shown(label) for label in self.col_labels)]]
            rows.extend(
                [_shown(label), *(_visible(cell) for cell in cells)]
                for label, cells in zip(self.row_labels, self.cells, strict=True)
            )
            body = _table(rows, [False] + [True] * self.columns)
        if self.caption is not None:
            body += f"\n{_visible(self.caption)}"
        return _title_text(self.title, body)

    __repr__ = __str__

    def _repr_html_(self) -> str:
        """The matrix as an HTML table; each cell's shade is ``--refkit-v`` between 0 and 1."""
        parts = ['<div class="refkit-view refkit-matrix">']
        if not self.columns:
            if self.title is not None:
                parts.append(f'<div class="refkit-view-title">{_markup(self.title)}</div>')
            parts.append(f'<p class="refkit-empty">{self._empty()}</p>')
        else:
            parts.append('<div class="refkit-scroll"><table class="refkit-grid">')
            if self.title is not None:
                parts.append(f"<caption>{_markup(self.title)}</caption>")
            parts.append("<thead><tr><th></th>")
            parts.extend(f'<th scope="col">{_markup(label)}</th>' for label in self.col_labels)
            parts.append("</tr></thead><tbody>")
            low, high = self.value_range
            for label, values, cells in zip(self.row_labels, self.values, self.cells, strict=True):
                parts.append(f'<tr><th scope="row">{_markup(label)}</th>')
                for value, cell in zip(values, cells, strict=True):
                    parts.append(f"{_cell_open(value, low, high)}{_markup(cell)}</td>")
                parts.append("</tr>")
            parts.append("</tbody></table></div>")
        if self.caption is not None:
            parts.append(f'<p class="refkit-view-note">{_markup(self.caption)}</p>')
        parts.append("</div>")
        return "".join(parts)


def _cell_open(value: float, low: float, high: float) -> str:
    """The ``<td>`` of one value, its shade as an inline custom property (none when empty).

    Examples:
        >>> _cell_open(0.5, 0.0, 1.0), _cell_open(0, 0.0, 1.0), _cell_open(math.nan, 0.0, 1.0)
        ('<td style="--refkit-v:0.5">', '<td>', '<td class="refkit-nan">')
    """
    if math.isnan(value):
        return '<td class="refkit-nan">'
    # Low first: when every finite value is 0 (low == high), they are all empty.
    share = 0.0 if value <= low else 1.0 if value >= high else (value - low) / (high - low)
    shade = f"{share:.2f}".rstrip("0").rstrip(".")
    style = "" if shade == "0" else f' style="--refkit-v:{shade}"'
    return f'<td class="refkit-inf"{style}>' if math.isinf(value) else f"<td{style}>"


def _cell_text(value: int | float | bool, value_format: str) -> str:
    """A value as printed: floats through ``value_format``, ints and bools as they are.

    Examples:
        >>> [_cell_text(v, "{:.2f}") for v in (0.123, 1, True, -math.inf, math.nan)]
        ['0.12', '1', 'True', '-inf', 'nan']
    """
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value_format.format(value) if isinstance(value, float) else str(value)


def _matrix_rows(values: object) -> list[list[int | float | bool]]:
    rows: list[list[int | float | bool]] = []
    for r, row in enumerate(_as_list(values, "values")):
        if isinstance(row, numbers.Number) or row is None:
            raise ValueError(
                "values must be 2-D (a sequence of rows); for one vector pass [values]"
            )
        cells: list[int | float | bool] = []
        for c, value in enumerate(_as_list(row, f"values[{r}]")):
            if isinstance(value, bool):
                cells.append(value)
            elif isinstance(value, numbers.Integral):
                cells.append(int(value))
            elif isinstance(value, numbers.Real):
                cells.append(float(value))
            elif not isinstance(value, (str, bytes)) and (
                isinstance(value, Iterable) or callable(getattr(value, "tolist", None))
            ):
                raise ValueError(
                    "values must be 2-D, not 3-D: pass one 2-D slice per matrix_view and put "
                    "them in a row with side_by_side(*(matrix_view(m) for m in values))"
                )
            else:
                raise TypeError(f"values[{r}][{c}] must be a number, not {type(value).__name__}")
        if rows and len(cells) != len(rows[0]):
            raise ValueError(
                f"ragged rows: row 0 has {len(rows[0])} values but row {r} has {len(cells)}"
            )
        rows.append(cells)
    return rows


def _labels(labels: object, count: int, name: str) -> tuple[str, ...]:
    if labels is None:
        return tuple(str(index) for index in range(count))
    shown = tuple(
        label if isinstance(label, str) else str(label) for label in _as_list(labels, name)
    )
    if len(shown) != count:
        raise ValueError(f"{name} has {len(shown)} labels but the matrix has {count}")
    return shown


def matrix_view(
    values: object,
    *,
    row_labels: object = None,
    col_labels: object = None,
    title: str | None = None,
    value_format: str = "{:.2f}",
    caption: str | None = None,
    value_range: tuple[float, float] | None = None,
) -> MatrixView:
    r"""Show a 2-D matrix as a table with each number printed on a shade of the accent colour.

    The shade runs from empty at ``min(0, smallest value)`` to full at ``max(0, largest
    value)`` (finite values only), so for weights, masks and probabilities it is proportional
    to the value, and a matrix of zeros stays empty. ``value_range`` sets both ends instead;
    pass the same range to views that are compared side by side. ``nan`` is printed as
    ``nan`` on a hatched cell, ``-inf`` and ``inf`` as themselves, shaded empty and full.

    A 3-D tensor is several matrices: pass each 2-D slice to its own ``matrix_view`` and put
    them in a row with :func:`side_by_side`.

    Args:
        values: Rows of numbers: a list of lists, a 2-D tensor or array (via ``.tolist()``).
        row_labels: One label per row; the row indices when ``None``.
        col_labels: One label per column; the column indices when ``None``.
        title: The table's caption.
        value_format: A ``str.format`` pattern for float values; ints and bools (masks) are
            printed as they are.
        caption: A sentence below the table (the text form's last line).
        value_range: ``(low, high)`` shaded empty and full; values beyond are clipped.

    Returns:
        The view; ``str()`` of it is the text form.

    Raises:
        TypeError: When ``values`` is not a sequence of rows of numbers.
        ValueError: When the rows differ in length, the input is not 2-D, a label sequence has
            the wrong length, or ``value_range`` is not two finite numbers, low below high.

    Examples:
        >>> matrix_view(
        ...     [[1.0, 0.0, 0.0], [0.5, 0.5, 0.0], [0.25, 0.5, 0.25]],
        ...     row_labels=["the", "cat", "sat"],
        ...     col_labels=["the", "cat", "sat"],
        ...     title="Causal attention weights",
        ... )
        Causal attention weights
              the   cat   sat
        the  1.00  0.00  0.00
        cat  0.50  0.50  0.00
        sat  0.25  0.50  0.25

        >>> matrix_view([[0, 1, 1], [1, 1, 0]], caption="0: dropped")
           0  1  2
        0  0  1  1
        1  1  1  0
        0: dropped

        >>> matrix_view([])
        empty matrix (0 rows)
    """
    rows = _matrix_rows(values)
    columns = len(rows[0]) if rows else 0
    if value_range is None:
        finite = [float(v) for row in rows for v in row if math.isfinite(v)]
        low, high = min([0.0, *finite]), max([0.0, *finite])
    else:
        low, high = (float(end) for end in value_range)
        if not (math.isfinite(low) and math.isfinite(high) and low < high):
            raise ValueError(
                f"value_range must be two finite numbers, low < high; got {value_range!r}"
            )
    cells = tuple(tuple(_cell_text(value, value_format) for value in row) for row in rows)
    return MatrixView(
        values=tuple(tuple(row) for row in rows),
        cells=cells,
        columns=columns,
        row_labels=_labels(row_labels, len(rows), "row_labels"),
        col_labels=_labels(col_labels, columns, "col_labels"),
        value_range=(low, high),
        title=title,
        caption=caption,
    )


@dataclass(frozen=True, repr=False)
class ViewRow:
    """Views laid out in a row, wrapping on a narrow page; see :func:`side_by_side`.

    Attributes:
        views: The views, in order.
        title: The heading shown above the row, or ``None``.
    """

    views: tuple[Any, ...]
    title: str | None

    def __str__(self) -> str:
        """The text form: each view's text form in turn, a blank line apart."""
        return _title_text(self.title, "\n\n".join(str(view) for view in self.views))

    __repr__ = __str__

    def _repr_html_(self) -> str:
        """The views' HTML, each whole, in one flex row."""
        title = (
            ""
            if self.title is None
            else f'<div class="refkit-view-title">{_markup(self.title)}</div>'
        )
        inner = "".join(view._repr_html_() for view in self.views)
        return f'<div class="refkit-view refkit-view-row">{title}<div class="refkit-row">{inner}</div></div>'


def side_by_side(*views: object, title: str | None = None) -> ViewRow:
    """Put views next to each other: two matrices to compare, a strip beside a matrix.

    Each view keeps its own title; ``title`` heads the whole row. A view too wide for its share
    of the page moves to a line of its own, and a wide matrix scrolls inside its box.

    Args:
        *views: Views of this module, or any object with ``_repr_html_`` whose ``str`` is its
            text form (its HTML is used as it is).
        title: A heading above the row.

    Returns:
        The row; ``str()`` of it is the views' text forms one after another.

    Raises:
        ValueError: When no view is given.
        TypeError: When a view has no ``_repr_html_``.

    Examples:
        >>> side_by_side(
        ...     matrix_view([[1, 0], [1, 1]], title="with mask"),
        ...     matrix_view([[1, 1], [1, 1]], title="without"),
        ...     title="Attention mask",
        ... )
        Attention mask
        with mask
           0  1
        0  1  0
        1  1  1
        <BLANKLINE>
        without
           0  1
        0  1  1
        1  1  1
    """
    if not views:
        raise ValueError("side_by_side needs at least one view")
    for index, view in enumerate(views):
        if not callable(getattr(view, "_repr_html_", None)):
            raise TypeError(f"view {index} ({type(view).__name__}) has no _repr_html_: not a view")
    return ViewRow(tuple(views), title)
