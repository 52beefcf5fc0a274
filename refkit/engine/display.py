"""Show a figure or a view in a snippet's output, in order with what it prints.

A snippet calls :func:`show` with a matplotlib figure, or with a view from
:mod:`refkit.engine.views` (anything with ``_repr_html_`` and a plain-text ``str``). What it
shows has two forms:

- a **text** form: the caption, then the facts the picture shows (for a figure, the data of
  each line, bar, image and label, rounded; for a view, its table). This is what the stdlib
  doctest runner sees, what the drift check compares (so new bytes that show nothing new are
  not a change) and what a reader's copy of the snippet prints;
- a **picture**: inline SVG for a figure (deterministic bytes, text in ``currentColor`` so it
  follows the page's light or dark palette), the view's HTML for a view.

Run by refkit's worker, :func:`show` hands both to the worker's capture (see
:func:`install_display_sink`); in a Jupyter kernel (a downloaded notebook) it displays the
picture, with the text form as its plain-text alternative, as the notebook recorded it; anywhere
else (``python -m doctest``, a pasted script) it prints the text form. It imports matplotlib
only when handed a figure.

This module is copied into the standalone sources refkit builds for readers, so it keeps to
the standard library and has no state but the sink the worker installs.
"""

from __future__ import annotations

import html
import io
import math
import re
import sys
from collections.abc import Callable, Iterable
from typing import Any

__all__ = ["figure_svg", "figure_text", "install_display_sink", "show"]

# Set in the worker's child (and only there) for the run of one snippet; see show().
_display_sink: list[Callable[[str, str], None]] = []

# How many points of a line, or values of an image row, the text form keeps before it samples.
_MAX_VALUES = 48


def install_display_sink(sink: Callable[[str, str], None] | None) -> None:
    """Send what :func:`show` shows to ``sink(text, html)`` instead of printing it; None undoes.

    Examples:
        >>> shown = []
        >>> install_display_sink(lambda text, markup: shown.append(text))
        >>> show(_Table())
        >>> install_display_sink(None)
        >>> shown
        ['a table']
    """
    _display_sink.clear()
    if sink is not None:
        _display_sink.append(sink)


def show(thing: Any, caption: str = "") -> None:
    """Show a matplotlib figure or a view at this point of the snippet's output.

    Args:
        thing: A ``matplotlib.figure.Figure``, or an object with ``_repr_html_`` whose ``str``
            is its plain-text form (every view of :mod:`refkit.engine.views` is one).
        caption: One line saying what the picture shows: the page's caption, the figure's
            accessible name and the first line of the text form. Kept in the search index.

    Raises:
        TypeError: When ``thing`` is neither a figure nor a view.

    Examples:
        Outside refkit's worker the text form is printed, so a doctest checks the numbers:

        >>> show(_Table(), caption="Ids per word")
        Ids per word
        a table
    """
    if _display_sink:
        _display_sink[0](*_text_and_markup(thing, caption))
    elif (display := _notebook_display()) is not None:
        text, markup = _text_and_markup(thing, caption)
        kind = "image/svg+xml" if markup.startswith("<svg") else "text/html"
        # As refkit recorded it in the page's notebook: the picture, its text form beside it.
        display({kind: markup, "text/plain": text}, raw=True)
    else:
        print(_text_and_markup(thing, caption, picture=False)[0])


def _notebook_display() -> Callable[..., Any] | None:
    """IPython's ``display`` when this runs in a Jupyter kernel (a downloaded notebook)."""
    ipython = sys.modules.get("IPython")
    shell = getattr(ipython, "get_ipython", lambda: None)()
    if shell is None or not hasattr(shell, "kernel"):
        return None
    from IPython.display import display

    return display


def _text_and_markup(thing: Any, caption: str, *, picture: bool = True) -> tuple[str, str]:
    """The text form and the picture of ``thing``; with ``picture=False`` no SVG is drawn."""
    caption = " ".join(str(caption).split())
    if hasattr(thing, "savefig") and hasattr(thing, "axes"):
        text = figure_text(thing)
        markup = figure_svg(thing, caption) if picture else ""
    elif callable(getattr(thing, "_repr_html_", None)):
        text = str(thing)
        markup = thing._repr_html_()
        if not isinstance(markup, str):
            raise TypeError(f"{type(thing).__name__}._repr_html_() returned no string")
    else:
        raise TypeError(
            f"show() takes a matplotlib Figure or a view with _repr_html_, not {type(thing).__name__}"
        )
    return (f"{caption}\n{text}" if caption else text).rstrip("\n"), markup


def _number(value: Any) -> str:
    """A value rounded for the text form: 3 significant digits, integers as they are.

    Examples:
        >>> [_number(v) for v in (0.123456, 2.0, 7, -1e-9, float("nan"), float("-inf"), True)]
        ['0.123', '2', '7', '-1e-09', 'nan', '-inf', '1']
    """
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    if math.isnan(number) or math.isinf(number):
        return str(number)
    if number == int(number) and abs(number) < 1e15:
        return str(int(number))
    return f"{number:.3g}"


def _values(values: Iterable[Any]) -> str:
    """Values in a row, sampled evenly (first and last kept) when there are many.

    Examples:
        >>> _values([1, 2.5, 3])
        '1 2.5 3'
        >>> _values(range(100))[:24]
        '(100 values, 48 shown) 0'
    """
    items = list(values)
    if len(items) <= _MAX_VALUES:
        return " ".join(_number(item) for item in items)
    step = (len(items) - 1) / (_MAX_VALUES - 1)
    sample = [items[round(i * step)] for i in range(_MAX_VALUES)]
    return f"({len(items)} values, {_MAX_VALUES} shown) " + " ".join(_number(v) for v in sample)


def _label(artist: Any) -> str:
    label = artist.get_label()
    return "" if not label or label.startswith("_") else f" {label!r}"


def figure_text(figure: Any) -> str:
    """What a matplotlib figure shows, as text: titles, axis labels, ticks, and its data.

    Each axes lists its title and labels, then every line (its points), bar group (the
    heights), image (its rows of values) and text label. Numbers are rounded to 3 significant
    digits, so the form changes when what is drawn changes, not when the bytes do.

    Examples:
        >>> from matplotlib.figure import Figure
        >>> fig = Figure()
        >>> ax = fig.add_subplot(title="Loss", xlabel="step")
        >>> _ = ax.plot([0, 1, 2], [1.0, 0.5, 0.25], label="train")
        >>> print(figure_text(fig))
        axes 'Loss' x: 'step'
          line 'train': x 0 1 2; y 1 0.5 0.25
    """
    lines: list[str] = []
    for axes in figure.axes:
        head = f"axes {axes.get_title()!r}" if axes.get_title() else "axes"
        for name, label in (("x", axes.get_xlabel()), ("y", axes.get_ylabel())):
            if label:
                head += f" {name}: {label!r}"
        lines.append(head)
        for line in axes.get_lines():
            x, y = line.get_data()
            lines.append(f"  line{_label(line)}: x {_values(x)}; y {_values(y)}")
        for container in axes.containers:
            heights = [patch.get_height() for patch in container.patches]
            lines.append(f"  bars{_label(container)}: {_values(heights)}")
        for image in axes.get_images():
            rows = image.get_array()
            if rows is None:
                continue
            rows = rows.tolist()
            lines.append(f"  image {len(rows)}x{len(rows[0]) if rows else 0}:")
            shown = rows if len(rows) <= _MAX_VALUES else rows[:: max(1, len(rows) // _MAX_VALUES)]
            lines.extend(f"    {_values(row if isinstance(row, list) else [row])}" for row in shown)
        for text in axes.texts:
            if text.get_text():
                lines.append(f"  text {text.get_text()!r}")
        legend = axes.get_legend()
        if legend is not None:
            lines.append(f"  legend: {', '.join(repr(t.get_text()) for t in legend.get_texts())}")
    if figure._suptitle is not None and figure._suptitle.get_text():
        lines.insert(0, f"title {figure._suptitle.get_text()!r}")
    return "\n".join(lines)


# What matplotlib writes around the drawing that a page needs none of (and that would make
# the bytes differ between runs or machines): the XML prolog, the doctype, the metadata.
_SVG_PREAMBLE = re.compile(r"\A.*?(?=<svg\b)", re.DOTALL)
_SVG_METADATA = re.compile(r"\s*<metadata>.*?</metadata>", re.DOTALL)
_SVG_COMMENT = re.compile(r"\s*<!--.*?-->", re.DOTALL)
# Its one style rule is `*{...}`: inline in a page it would style every element there. The
# stylesheet gives figures the same rule (.refkit-figure svg *).
_SVG_STYLE = re.compile(r"\s*<style[^>]*>.*?</style>", re.DOTALL)
_SVG_ID = re.compile(r'\s+id="([^"]*)"')
_SVG_REFERENCE = re.compile(r"#([^\s\"')]+)")
# matplotlib's default ink: drawn in the page's text colour instead, for the dark palette.
_SVG_BLACK = re.compile(r"#000000\b|\bblack\b")
_SVG_SIZE = re.compile(r'\A<svg([^>]*?) width="[^"]*" height="[^"]*"')


def figure_svg(figure: Any, caption: str = "") -> str:
    """A matplotlib figure as inline SVG whose bytes depend only on what it shows.

    Text stays text (smaller, selectable, in the page's font); black becomes ``currentColor``
    and backgrounds are transparent, so the figure reads in light and dark palettes alike; the
    element ids are derived from a fixed salt, and no date or version is written. The caption
    is the figure's accessible name.

    Examples:
        >>> from matplotlib.figure import Figure
        >>> fig = Figure(figsize=(2, 1))
        >>> _ = fig.add_subplot().plot([0, 1], [0, 1])
        >>> svg = figure_svg(fig, caption="A <rising> line")
        >>> svg.startswith('<svg role="img" aria-label="A &lt;rising&gt; line"')
        True
        >>> svg == figure_svg(fig, caption="A <rising> line"), "#000000" in svg, "<style" in svg
        (True, False, False)
    """
    import matplotlib

    for axes in figure.axes:
        legend = axes.get_legend()
        if legend is not None:
            legend.get_frame().set_facecolor("none")
    out = io.StringIO()
    settings: dict[str, Any] = {
        "svg.hashsalt": "refkit",
        "svg.fonttype": "none",
        "svg.image_inline": True,
    }
    with matplotlib.rc_context(settings):  # type: ignore[arg-type]  # keys are rcParams names
        figure.savefig(
            out, format="svg", bbox_inches="tight", transparent=True, metadata={"Date": None}
        )
    svg = _SVG_PREAMBLE.sub("", out.getvalue(), count=1)
    svg = _SVG_COMMENT.sub("", _SVG_METADATA.sub("", _SVG_STYLE.sub("", svg)))
    svg = svg.replace("<defs>\n </defs>", "")
    # Ids nothing refers to go: figure_1, axes_1, ... would repeat in every figure of a page.
    referenced = set(_SVG_REFERENCE.findall(svg))
    svg = _SVG_ID.sub(lambda m: m.group(0) if m.group(1) in referenced else "", svg)
    svg = _SVG_BLACK.sub("currentColor", svg)
    # Width and height go: the viewBox keeps the aspect ratio and the page's CSS the size.
    svg = _SVG_SIZE.sub(r"<svg\1", svg, count=1)
    name = html.escape(caption or "figure", quote=True)
    # Black text gets no fill from matplotlib (it is the default); inherited from here, it is
    # drawn in the page's text colour too.
    root = f'<svg role="img" aria-label="{name}" fill="currentColor"'
    return svg.replace("<svg", root, 1).strip()


class _Table:
    """A tiny stand-in view for this module's examples."""

    def __str__(self) -> str:
        return "a table"

    def _repr_html_(self) -> str:
        return "<table></table>"
