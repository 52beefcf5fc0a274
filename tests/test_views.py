import ast
import math
import re
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

from refkit.engine import views
from refkit.engine.views import matrix_view, side_by_side, token_strip

CSS = Path(views.__file__).parent / "assets" / "refkit.css"
HOSTILE = ["<script>alert(1)</script>", "</s>", '"onload=x', "&amp;", "<pad>"]
# What bert_style_tokenizer() of refkit.offset_alignment gives for "Hugging Face tokenizers"
# (return_offsets_mapping=True, return_special_tokens_mask=True), recorded.
TEXT = "Hugging Face tokenizers"
TOKENS = ["[CLS]", "hu", "##g", "##ging", "f", "##ace", "tokenizer", "##s", "[SEP]"]
OFFSETS = [(0, 0), (0, 2), (2, 3), (3, 7), (8, 9), (9, 12), (13, 22), (22, 23), (0, 0)]
WORD_IDS = [None, 0, 0, 0, 1, 1, 2, 2, None]
SPECIAL = [1, 0, 0, 0, 0, 0, 0, 0, 1]
FIRST = [-100, 1, -100, -100, 2, -100, 0, -100, -100]
EVERY = [-100, 1, 1, 1, 2, 2, 0, 0, -100]
# Unprintable characters a token or a label may carry: ESC, NUL, tab, newline, DEL, a C1
# control, a zero-width space, a right-to-left override and a lone surrogate.
UNPRINTABLE = "\x1b\x00\t\n\x7f\x85\u200b\u202e\ud800"


class _Tags(HTMLParser):
    """Every start tag with its attributes, and whether the tags balance."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.open: list[str] = []
        self.data: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        self.open.append(tag)

    def handle_endtag(self, tag):
        assert self.open.pop() == tag

    def handle_data(self, data):
        self.data.append(data)


def parse(markup: str) -> _Tags:
    parser = _Tags()
    parser.feed(markup)
    parser.close()
    assert parser.open == []
    return parser


def classes(markup: str) -> set[str]:
    return {name for _, attrs in parse(markup).tags for name in (attrs.get("class") or "").split()}


def hostile_strip():
    return token_strip(
        HOSTILE,
        offsets=[(0, 3), (3, 5), (5, 9), (12, 17), (17, 21)],
        text="<b>'\"&lt;<i>&amp;<u>x",
        word_ids=[0, 1, 2, 3, None],
        labels={"<script>rule": HOSTILE, "plain": [0, 1, 2, 3, -100]},
        special=[0, 1, 0, 0, 1],
        title="<script>title</script>",
    )


def test_strip_escapes_hostile_text_in_every_place():
    markup = hostile_strip()._repr_html_()
    assert "<script" not in markup and "<pad>" not in markup and "</s>" not in markup
    # Each hostile token twice (its token line and its label line), the rule name and title once.
    assert markup.count("&lt;script&gt;alert(1)&lt;/script&gt;") == 2
    assert markup.count("&lt;/s&gt;") == 2
    assert markup.count("&quot;onload=x") == 2
    assert markup.count("&amp;amp;") == 2 + 1  # and once in the covered text "&amp;"
    assert "&lt;script&gt;rule" in markup and "&lt;script&gt;title&lt;/script&gt;" in markup
    assert "&lt;b&gt;" in markup  # the covered characters of text
    tags = parse(markup)
    assert {tag for tag, _ in tags.tags} == {"div", "span"}
    assert {name for _, attrs in tags.tags for name in attrs} == {"class", "title"}


def test_matrix_escapes_hostile_labels_title_caption_and_format():
    view = matrix_view(
        [[0.5, 1.0]],
        row_labels=["<script>r</script>"],
        col_labels=HOSTILE[1:3],
        title="<script>t</script>",
        caption='"onload=<x>',
        value_format="{:.1f}<i>",
    )
    markup = view._repr_html_()
    assert "<script" not in markup and "<i>" not in markup and "</s>" not in markup
    assert "&lt;script&gt;r&lt;/script&gt;" in markup and "&lt;script&gt;t&lt;/script&gt;" in markup
    assert "&lt;/s&gt;" in markup and "&quot;onload=x" in markup
    assert "&quot;onload=&lt;x&gt;" in markup and "0.5&lt;i&gt;" in markup
    tags = {tag for tag, _ in parse(markup).tags}
    assert tags == {"div", "table", "caption", "thead", "tbody", "tr", "th", "td", "p"}


def test_class_names_come_from_a_fixed_set_and_all_are_styled():
    used = classes(hostile_strip()._repr_html_())
    used |= classes(token_strip([UNPRINTABLE])._repr_html_() + token_strip([])._repr_html_())
    used |= classes(
        side_by_side(matrix_view([[math.nan, -math.inf, 1]]), matrix_view([]))._repr_html_()
    )
    roots = {"refkit-token-strip", "refkit-matrix", "refkit-view-row"}  # for finding, not styling
    assert used - roots == {
        "refkit-view", "refkit-view-title", "refkit-strip", "refkit-tok", "refkit-legend",
        "refkit-tok-text", "refkit-covered", "refkit-special", "refkit-ignored", "refkit-control",
        "refkit-empty", "refkit-scroll", "refkit-grid", "refkit-nan", "refkit-inf", "refkit-row",
    }  # fmt: skip
    css = CSS.read_text(encoding="utf-8")
    assert [name for name in sorted(used - roots) if f".{name}" not in css] == []


def test_unprintable_characters_are_shown_as_escapes():
    strip = token_strip(
        ["a" + UNPRINTABLE + "b"],
        labels=[UNPRINTABLE],
        offsets=[(0, 2)],
        text="\x1b\n",
        title="t\x1b",
    )
    markup, text = strip._repr_html_(), str(strip)
    escaped = r"\x1b\x00\t\n\x7f\x85\u200b\u202e\ud800"
    assert f'a<span class="refkit-control">{escaped}</span>b' in markup
    assert f"'a{escaped}b'" in text and f"'{escaped}'" in text
    assert r"'\x1b\n'" in text and text.startswith("t\\x1b\n")
    for form in (markup, text):
        assert not [char for char in form if not char.isprintable() and char != "\n"]
    assert text.count("\n") == 2  # the title, the header and one token: the newlines are ours


def test_matrix_labels_and_title_show_escapes():
    view = matrix_view([[1]], row_labels=["\x1b[31m"], col_labels=[""], title="a\x00")
    assert str(view) == "a\\x00\n            ''\n'\\x1b[31m'   1"
    assert (
        '<th scope="row"><span class="refkit-control">\\x1b</span>[31m</th>' in view._repr_html_()
    )


def test_text_form_of_a_real_tokenization():
    strip = token_strip(
        TOKENS,
        offsets=OFFSETS,
        text=TEXT,
        word_ids=WORD_IDS,
        labels={"first sub-token": FIRST, "every sub-token": EVERY},
        special=SPECIAL,
        title="Hugging Face tokenizers",
    )
    assert str(strip) == (
        "Hugging Face tokenizers\n"
        "#  token      special  span      text       word id  first sub-token  every sub-token\n"
        "0  [CLS]      yes      [0, 0)    ''         None     -100             -100\n"
        "1  hu                  [0, 2)    Hu         0        1                1\n"
        "2  ##g                 [2, 3)    g          0        -100             1\n"
        "3  ##ging              [3, 7)    ging       0        -100             1\n"
        "4  f                   [8, 9)    F          1        2                2\n"
        "5  ##ace               [9, 12)   ace        1        -100             2\n"
        "6  tokenizer           [13, 22)  tokenizer  2        0                0\n"
        "7  ##s                 [22, 23)  s          2        -100             0\n"
        "8  [SEP]      yes      [0, 0)    ''         None     -100             -100"
    )
    assert repr(strip) == str(strip)


def test_text_form_shows_only_what_was_given_without_trailing_spaces():
    strip = token_strip(["Ġs", "p", " ", ""], labels=["B", None, "", "I"])
    assert str(strip) == "#  token  label\n0  Ġs     B\n1  p      None\n2  ' '    ''\n3  ''     I"
    matrix = str(matrix_view([[1.5, -2.25], [0.0, 10.0]], value_format="{:.1f}"))
    assert matrix == "     0     1\n0  1.5  -2.2\n1  0.0  10.0"
    assert all(line == line.rstrip() for line in (str(strip) + "\n" + matrix).splitlines())


def test_text_form_aligns_wide_characters():
    assert (
        str(token_strip(["日本", "x"], labels=[1, 2]))
        == "#  token  label\n0  日本   1\n1  x      2"
    )


def test_strip_html_has_a_legend_and_one_cell_per_token():
    markup = token_strip(
        TOKENS, offsets=OFFSETS, text=TEXT, labels=FIRST, special=SPECIAL
    )._repr_html_()
    assert markup.startswith(
        '<div class="refkit-view refkit-token-strip"><div class="refkit-strip">'
    )
    assert (
        '<div class="refkit-tok refkit-legend"><span>#</span><span class="refkit-tok-text">token</span>'
        '<span>span</span><span class="refkit-covered">text</span><span>label</span></div>'
    ) in markup
    assert markup.count('<div class="refkit-tok') == len(TOKENS) + 1
    assert (
        '<div class="refkit-tok"><span>4</span><span class="refkit-tok-text">f</span>'
        '<span>[8, 9)</span><span class="refkit-covered">F</span><span>2</span></div>'
    ) in markup


def test_only_tokens_flagged_special_are_marked():
    markup = token_strip(TOKENS, offsets=OFFSETS, special=SPECIAL)._repr_html_()
    assert markup.count('refkit-special" title="special token"') == 2
    # A (0, 0) span is no evidence: without `special` nothing is marked.
    assert "refkit-special" not in token_strip(TOKENS, offsets=OFFSETS)._repr_html_()


def test_ignored_labels_are_dimmed_and_others_not():
    markup = token_strip(TOKENS, labels={"first": FIRST, "every": EVERY})._repr_html_()
    assert markup.count('<span class="refkit-ignored">-100</span>') == FIRST.count(
        -100
    ) + EVERY.count(-100)
    assert (
        "refkit-ignored" not in token_strip(["a"], labels=["-100"])._repr_html_()
    )  # a tag, not the index


def test_strip_rejects_mismatched_or_invalid_input():
    with pytest.raises(ValueError, match="labels has 2 entries but there are 3 tokens"):
        token_strip(["a", "b", "c"], labels=[0, 1])
    with pytest.raises(ValueError, match=r"labels\['every'\] has 1 entries"):
        token_strip(["a", "b"], labels={"every": [0]})
    with pytest.raises(ValueError, match="text needs offsets"):
        token_strip(["a"], text="a")
    with pytest.raises(ValueError, match=r"offsets\[0\] = \(0, 5\) reaches past the end of text"):
        token_strip(["a"], offsets=[(0, 5)], text="abc")
    with pytest.raises(ValueError, match=r"offsets\[1\] = \(3, 2\) is not a span"):
        token_strip(["a", "b"], offsets=[(0, 1), (3, 2)])
    with pytest.raises(ValueError, match=r"word_ids\[0\] must be an int or None"):
        token_strip(["a"], word_ids=["0"])
    with pytest.raises(TypeError, match="tokens must be a sequence"):
        token_strip("hello")


def test_matrix_shades_from_zero_to_the_largest_value():
    markup = matrix_view([[0, 0.25, 1.0], [0.5, 2 / 3, 1]])._repr_html_()
    cells = re.findall(r"<td[^>]*>[^<]*</td>", markup)
    assert cells == [
        "<td>0</td>",
        '<td style="--refkit-v:0.25">0.25</td>',
        '<td style="--refkit-v:1">1.00</td>',
        '<td style="--refkit-v:0.5">0.50</td>',
        '<td style="--refkit-v:0.67">0.67</td>',
        '<td style="--refkit-v:1">1</td>',
    ]
    assert "--refkit-v" not in matrix_view([[0, 0], [0, 0]])._repr_html_()
    shared = matrix_view([[0.5, 3.0]], value_range=(0, 2))._repr_html_()
    assert "--refkit-v:0.25" in shared and '<td style="--refkit-v:1">3.00</td>' in shared
    with pytest.raises(ValueError, match="value_range"):
        matrix_view([[1]], value_range=(1, 1))


def test_matrix_of_a_mask_prints_ints_and_bools_as_they_are():
    assert (
        str(matrix_view([[True, False]], col_labels=["k0", "k1"]))
        == "     k0     k1\n0  True  False"
    )
    assert str(matrix_view([[1, 0]], value_format="{:.3f}")) == "   0  1\n0  1  0"


def test_matrix_shows_nan_and_infinities():
    view = matrix_view([[math.nan, -math.inf], [math.inf, 0.5]], title="scores")
    assert str(view) == "scores\n     0     1\n0  nan  -inf\n1  inf  0.50"
    cells = re.findall(r"<td[^>]*>[^<]*</td>", view._repr_html_())
    assert cells == [
        '<td class="refkit-nan">nan</td>',
        '<td class="refkit-inf">-inf</td>',
        '<td class="refkit-inf" style="--refkit-v:1">inf</td>',
        '<td style="--refkit-v:1">0.50</td>',  # the shade ignores the infinities
    ]
    all_nan = matrix_view([[math.nan]])
    assert str(all_nan) == "     0\n0  nan"


def test_empty_inputs_say_so():
    assert str(matrix_view([], title="none")) == "none\nempty matrix (0 rows)"
    assert str(matrix_view([[], []])) == "empty matrix (2 rows, 0 columns)"
    markup = matrix_view([])._repr_html_()
    assert (
        markup
        == '<div class="refkit-view refkit-matrix"><p class="refkit-empty">empty matrix (0 rows)</p></div>'
    )
    assert str(token_strip([])) == "(no tokens)"
    assert "no tokens" in token_strip([], title="t")._repr_html_()


def test_matrix_rejects_ragged_rows_and_other_shapes():
    with pytest.raises(ValueError, match="ragged rows: row 0 has 3 values but row 2 has 2"):
        matrix_view([[1, 2, 3], [4, 5, 6], [7, 8]])
    with pytest.raises(ValueError, match="not 3-D: pass one 2-D slice per matrix_view"):
        matrix_view([[[1, 2]], [[3, 4]]])
    with pytest.raises(ValueError, match="must be 2-D"):
        matrix_view([1, 2, 3])
    with pytest.raises(TypeError, match=r"values\[0\]\[1\] must be a number, not str"):
        matrix_view([[1, "2"]])
    with pytest.raises(ValueError, match="col_labels has 1 labels but the matrix has 2"):
        matrix_view([[1, 2]], col_labels=["a"])


def test_side_by_side_shows_each_part_in_order():
    with_mask = matrix_view([[1.0, 0.0], [0.5, 0.5]], title="with mask")
    without = matrix_view([[0.5, 0.5], [0.5, 0.5]], title="without")
    strip = token_strip(["a", "b"])
    row = side_by_side(with_mask, without, strip, title="Attention")
    assert str(row) == (
        "Attention\n"
        "with mask\n      0     1\n0  1.00  0.00\n1  0.50  0.50\n\n"
        "without\n      0     1\n0  0.50  0.50\n1  0.50  0.50\n\n"
        "#  token\n0  a\n1  b"
    )
    assert repr(row) == str(row)
    assert row._repr_html_() == (
        '<div class="refkit-view refkit-view-row"><div class="refkit-view-title">Attention</div>'
        f'<div class="refkit-row">{with_mask._repr_html_()}{without._repr_html_()}'
        f"{strip._repr_html_()}</div></div>"
    )
    nested = side_by_side(row, matrix_view([]))._repr_html_()
    assert nested.count('class="refkit-view ') == 6
    with pytest.raises(TypeError, match="has no _repr_html_"):
        side_by_side(with_mask, "text")
    with pytest.raises(ValueError, match="at least one view"):
        side_by_side()


def test_output_is_deterministic():
    first = side_by_side(hostile_strip(), matrix_view([[0.1, 0.2]]))
    again = side_by_side(hostile_strip(), matrix_view([[0.1, 0.2]]))
    assert first._repr_html_() == again._repr_html_() and str(first) == str(again)
    assert first == again


class _Tensorish:
    def __init__(self, data):
        self.data = data

    def tolist(self):
        return self.data


def test_anything_with_tolist_is_accepted():
    matrix = matrix_view(
        _Tensorish([_Tensorish([0.25, 1.0]), [0.0, 0.5]]), row_labels=_Tensorish([7, 8])
    )
    assert str(matrix) == "      0     1\n7  0.25  1.00\n8  0.00  0.50"
    strip = token_strip(
        _Tensorish(["a", "b"]),
        offsets=_Tensorish([[0, 1], [1, 2]]),
        word_ids=_Tensorish([0, None]),
        labels=_Tensorish([3, -100]),
        special=_Tensorish([0, 1]),
    )
    assert (
        str(strip)
        == "#  token  special  span    word id  label\n0  a               [0, 1)  0        3\n1  b      yes      [1, 2)  None     -100"
    )


def test_torch_tensors_are_accepted():
    torch = pytest.importorskip("torch")
    mask = torch.tril(torch.ones(3, 3, dtype=torch.bool))
    scores = torch.zeros(3, 3).masked_fill(~mask, float("-inf"))
    weights = scores.softmax(dim=-1)
    row = side_by_side(matrix_view(mask), matrix_view(scores), matrix_view(weights))
    assert str(row) == (
        "      0      1      2\n0  True  False  False\n1  True   True  False\n2  True   True   True\n\n"
        "      0     1     2\n0  0.00  -inf  -inf\n1  0.00  0.00  -inf\n2  0.00  0.00  0.00\n\n"
        "      0     1     2\n0  1.00  0.00  0.00\n1  0.50  0.50  0.00\n2  0.33  0.33  0.33"
    )
    strip = token_strip(
        ["a", "b"], offsets=torch.tensor([[0, 1], [1, 3]]), labels=torch.tensor([1, -100])
    )
    assert str(strip) == "#  token  span    label\n0  a      [0, 1)  1\n1  b      [1, 3)  -100"


def test_html_stays_light():
    matrix = matrix_view(
        [[(r * 12 + c) / 143 for c in range(12)] for r in range(12)], title="weights"
    )
    assert len(matrix._repr_html_()) < 7_000
    tokens = ["[CLS]", *(f"tok{i}" for i in range(18)), "[SEP]"]
    strip = token_strip(
        tokens,
        offsets=[(0, 0), *((5 * i, 5 * i + 4) for i in range(18)), (0, 0)],
        word_ids=[None, *range(18), None],
        labels=[-100, *([1] * 18), -100],
        special=[1, *([0] * 18), 1],
    )
    assert len(strip._repr_html_()) < 3_500


def test_module_keeps_to_the_standard_library():
    tree = ast.parse(Path(views.__file__).read_text(encoding="utf-8"))
    imported = {
        (node.module if isinstance(node, ast.ImportFrom) else alias.name).split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, (ast.Import, ast.ImportFrom))
        for alias in node.names
    }
    assert imported - {"__future__"} <= set(sys.stdlib_module_names)
    assert all(not (isinstance(node, ast.ImportFrom) and node.level) for node in ast.walk(tree))
    # At import time the module only defines things: no calls but decorators and __all__.
    for node in tree.body:
        assert isinstance(
            node, (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.ClassDef, ast.Assign, ast.Expr)
        )
        if isinstance(node, ast.Assign):
            assert isinstance(node.value, (ast.List, ast.Constant, ast.UnaryOp))
