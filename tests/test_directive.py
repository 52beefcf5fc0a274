import random
import re
import shlex
import sys

import markdown
import pytest

from refkit.engine import directive
from refkit.engine.directive import find_directives, replace_directives


def test_directive_with_title_and_source_option_is_parsed():
    found, errors = find_directives('!refkit m.demo_a title="Two words" source=collapsed')
    assert errors == []
    [directive] = found
    assert (directive.snippet_id, directive.title, directive.source) == (
        "m.demo_a",
        "Two words",
        "collapsed",
    )


def test_directives_inside_fenced_code_are_left_alone():
    page = "```markdown\n!refkit m.demo_a\n```\n\n~~~~\n!refkit m.demo_b\n~~~~\n!refkit m.demo_c\n"
    found, _ = find_directives(page)
    assert [d.snippet_id for d in found] == ["m.demo_c"]
    assert [d.line for d in found] == [8]


def test_a_longer_fence_is_not_closed_by_a_shorter_one():
    page = "````\n```\n!refkit m.demo_a\n```\n````\n!refkit m.demo_b"
    found, _ = find_directives(page)
    assert [d.snippet_id for d in found] == ["m.demo_b"]


def test_inline_code_mentions_are_not_directives():
    found, errors = find_directives("Write `!refkit m.demo_a` on its own line.")
    assert found == [] and errors == []


@pytest.mark.parametrize(
    ("page", "embedded"),
    [
        ("Para\n\n    !refkit m.demo_a\n", False),  # an indented code block
        ("    !refkit m.demo_a\n", False),  # a code block on the first line
        ("Para\n\n    code\n\n    !refkit m.demo_a\n", False),  # code across a blank line
        ("!!! note\n    Text.\n\n        !refkit m.demo_a\n", False),  # code in an admonition
        ("!!! note\n    Text.\n\n    !refkit m.demo_a\n", True),  # admonition content
        ("???+ note\n\n    !refkit m.demo_a\n", True),  # collapsible admonition content
        ('=== "Tab"\n\n    !refkit m.demo_a\n', True),  # content tab
        ("- item\n\n    !refkit m.demo_a\n", True),  # list item continuation
        ("- a\n    - b\n\n        !refkit m.demo_a\n", True),  # nested list item
        ("Para\n    !refkit m.demo_a\n", True),  # lazy continuation, not code
    ],
)
def test_directives_in_indented_code_blocks_are_left_alone(page, embedded):
    found, errors = find_directives(page)
    assert errors == []
    assert [d.snippet_id for d in found] == (["m.demo_a"] if embedded else [])


def test_indented_directive_keeps_its_indent_when_replaced():
    page = '!!! note\n    !refkit m.demo_a title="x"\n'
    [directive], _ = find_directives(page)
    assert directive.indent == "    "
    assert replace_directives(page, {2: "A\n\nB"}) == "!!! note\n    A\n\n    B\n"


def test_malformed_options_are_errors_with_line_numbers():
    page = 'text\n!refkit m.demo_a title="unclosed\n!refkit m.demo_b source=sideways\n!refkit title=x\n!refkit-nope'
    found, errors = find_directives(page)
    assert found == []
    assert [e.line for e in errors] == [2, 3, 4, 5]
    assert "malformed options" in errors[0].reason
    assert "source='sideways' is not one of show, hide, collapsed" in errors[1].reason
    assert "snippet id is missing" in errors[2].reason
    assert "unknown directive" in errors[3].reason


def test_environment_directive():
    [directive], errors = find_directives("!refkit-environment")
    assert errors == [] and directive.kind == "environment"


# --- where a directive runs: where Python-Markdown would otherwise show it as text ----------------

MARKDOWN_EXTENSIONS = ["pymdownx.superfences", "admonition", "pymdownx.details", "pymdownx.tabbed"]
DIRECTIVE = "!refkit m.demo_a"


def shown_as_text(page: str) -> bool:
    """Whether MkDocs' Markdown shows the directive line as text: outside code and comments."""
    html = markdown.markdown(page, extensions=MARKDOWN_EXTENSIONS)
    html = re.sub(r"<!--.*?-->", "", html, flags=re.DOTALL)
    html = re.sub(r"<code>.*?</code>", "", html, flags=re.DOTALL)
    return DIRECTIVE in html


@pytest.mark.parametrize(
    "page",
    [
        # HTML comments: the author's way to switch a directive off.
        "<!--\n!refkit m.demo_a\n-->\n",
        "<!--\n\n!refkit m.demo_a\n\n-->\n\nafter",  # a comment block holds blank lines
        "text <!--\n!refkit m.demo_a\n-->\n",  # an inline comment inside a paragraph
        "para\n<!--\n\n!refkit m.demo_a\n\n-->\n",
        "  <!--\n\n!refkit m.demo_a\n\n-->",
        "<!-- a --> <!--\n!refkit m.demo_a\n-->\n",  # closed, then opened again
        "<!--\n\n    -->\n\n!refkit m.demo_a\n",  # an indented "-->" still closes it
        "> <!--\n> !refkit m.demo_a\n> -->\n",
        "- item\n\n    <!--\n    !refkit m.demo_a\n    -->\n",
        "<!--\n> !refkit m.demo_a\n-->",
        # ...and what only looks like one.
        "<!-- a -->\n!refkit m.demo_a\n",
        "<!--\n!refkit m.demo_a\n\nafter",  # never closed: no comment
        "text <!--\n\n!refkit m.demo_a\n\n-->\n",  # an inline comment ends with its paragraph
        "> <!--\n>\n> !refkit m.demo_a\n>\n> -->",
        "- item\n\n    <!--\n\n    !refkit m.demo_a\n\n    -->\n",
        "`<!--`\n\n!refkit m.demo_a\n\n-->",  # inline code
        "text `<!--`\n!refkit m.demo_a\n-->",
        "Para\n\n    <!--\n\n!refkit m.demo_a\n\n-->",  # in an indented code block
        "```\n<!--\n```\n!refkit m.demo_a\n-->\n",  # in a fence
        "<!-- a <!-- b\n!refkit x\n-->\n!refkit m.demo_a\n-->",  # comments do not nest
        "<!--->\n!refkit m.demo_a\n-->",
        # Blockquotes: their content is Markdown.
        "> !refkit m.demo_a",
        "> > !refkit m.demo_a",
        ">!refkit m.demo_a",
        "- item\n\n    > !refkit m.demo_a\n",
        "> - item\n>\n>     !refkit m.demo_a\n",
        "> para\n!refkit m.demo_a",  # a lazy line of the quote
        "> ```\n> a\n\n!refkit m.demo_a\n",  # the quote, and its unclosed fence, ended
        # Code inside a blockquote.
        "> ```\n> !refkit m.demo_a\n> ```\n",
        ">     !refkit m.demo_a\n",
        "> para\n>\n>     !refkit m.demo_a\n",
        "> para\n\n>     !refkit m.demo_a\n",
        "> - item\n>\n>         !refkit m.demo_a\n",
        "```\n> !refkit m.demo_a\n```",
        # Fences: one that is never closed is no fence.
        "```\n!refkit m.demo_a\n\npara",
        "~~~\n!refkit m.demo_a\n```\n",
        "<!--\n```\n-->\n!refkit m.demo_a\n```\n",  # fences are read before comments
        "Para\n\n```\n!refkit x\n```\n\n    !refkit m.demo_a",
        "- a\n\n  ```\n  !refkit x\n  ```\n\n  !refkit m.demo_a",
    ],
)
def test_a_directive_runs_exactly_where_markdown_would_show_it_as_text(page):
    found, errors = find_directives(page)
    assert errors == []
    assert (DIRECTIVE in [d.text.strip(" >") for d in found]) == shown_as_text(page)


def test_a_commented_out_directive_says_nothing_even_when_malformed():
    page = "<!--\n!refkit m.demo_a colour=red\n!refkitt m.demo_b\n-->\n<!-- !refkit -->\n"
    assert find_directives(page) == ([], [])


def test_a_directive_in_a_blockquote_stays_in_the_quote_on_every_rendered_line():
    page = "> Quoted:\n>\n> !refkit m.demo_a\n\n- item\n\n    > > !refkit m.demo_b\n"
    found, errors = find_directives(page)
    assert errors == []
    assert [(d.line, d.indent, d.snippet_id) for d in found] == [
        (3, "> ", "m.demo_a"),
        (7, "    > > ", "m.demo_b"),
    ]
    replaced = replace_directives(page, {3: "A\n\n    B", 7: "C\n\nD"})
    # A blank line keeps its markers: without them it would end the quote.
    assert replaced == "> Quoted:\n>\n> A\n>\n>     B\n\n- item\n\n    > > C\n    > >\n    > > D\n"


def test_a_directive_in_a_blockquote_renders_inside_the_quote():
    replaced = replace_directives(
        "> !refkit m.demo_a", {1: '??? quote "Source"\n\n    ```python\n    x = 1\n    ```\n\nOUT'}
    )
    html = markdown.markdown(replaced, extensions=MARKDOWN_EXTENSIONS)
    assert html.startswith("<blockquote>\n<details") and html.endswith("<p>OUT</p>\n</blockquote>")
    assert '<span class="n">x</span>' in html


@pytest.mark.parametrize(
    ("line", "meant"),
    [
        ("!refkitt m.demo_a", "!refkit m.demo_a"),
        ("!refkit:m.demo_a", "!refkit m.demo_a"),
        ("!refkit:x", "!refkit x"),
        ("! refkit m.demo_a", "!refkit m.demo_a"),
        ("!Refkit m.demo_a", "!refkit m.demo_a"),
        ("!REFKIT m.demo_a source=hide", "!refkit m.demo_a source=hide"),
        ("!!refkit m.demo_a", "!refkit m.demo_a"),
        ("!refkitm.demo_a", "!refkit m.demo_a"),
        ("!refkit.m.demo_a", "!refkit m.demo_a"),
        ("!refkit\u00a0m.demo_a", "!refkit m.demo_a"),
        ("  !refkitt m.demo_a", "!refkit m.demo_a"),
        ("> !refkitt m.demo_a", "!refkit m.demo_a"),
        ("!Refkit-Environment", "!refkit-environment"),
        ("!refkit-environment:", "!refkit-environment"),
    ],
)
def test_a_near_miss_is_left_as_text_with_a_warning_naming_its_line(line, meant):
    found, errors = find_directives(f"# Page\n\n{line}\n")
    assert found == []
    [error] = errors
    assert error.line == 3
    assert error.reason.startswith("not a directive, left as text")
    assert f'did you mean "{meant}"?' in error.reason


def test_a_near_miss_names_an_odd_space():
    [error] = find_directives("!refkit\u00a0m.demo_a")[1]
    assert "the space after !refkit is U+00A0, not a plain space" in error.reason


def test_a_misspelt_environment_directive_gets_a_hint():
    [error] = find_directives("!refkit-enviroment")[1]
    assert (
        error.reason == "unknown directive '!refkit-enviroment' (did you mean !refkit-environment?)"
    )


@pytest.mark.parametrize(
    "page",
    [
        "The !refkit line embeds a snippet.",  # prose
        "Write `!refkitt` to get a warning.",
        '!!! refkit "An admonition of type refkit"\n    Text.',
        "! Important: read this.",
        "```\n!refkitt m.demo_a\n```",
        "Para\n\n    ! refkit m.demo_a",
        "<!-- !refkitt m.demo_a -->",
    ],
)
def test_what_is_no_near_miss_gets_no_warning(page):
    assert find_directives(page) == ([], [])


def test_a_huge_malformed_line_gives_a_short_message():
    [error] = find_directives("!refkit m.demo_a " + "x" * 1_000_000)[1]
    assert len(str(error)) < 400 and len(error.text) < 300


# --- the scan is linear ---------------------------------------------------------------------------


def executed_lines(markdown: str) -> int:
    """How many lines of ``directive.py`` run while scanning a page: the work, counted."""
    count = 0

    def trace(frame, event, arg):
        nonlocal count
        if frame.f_code.co_filename != directive.__file__:
            return None
        if event == "line":
            count += 1
        return trace

    previous = sys.gettrace()
    sys.settrace(trace)
    try:
        find_directives(markdown)
    finally:
        sys.settrace(previous)
    return count


PAGE_SHAPES = {
    "indented code": lambda n: "Para\n\n" + "\n".join(f"    x = {i}" for i in range(n)),
    "code in a list item": lambda n: "- item\n\n" + "\n".join(f"        x = {i}" for i in range(n)),
    "nested lists": lambda n: "\n".join(" " * (2 * (i % 30)) + "- item" for i in range(n)),
    "a staircase of indents": lambda n: "\n\n".join(" " * (i % 12) + "x" for i in range(n)),
    "blockquotes": lambda n: "\n".join("> " * (i % 10) + "    x" for i in range(n)),
    "comments": lambda n: "\n".join("text <!-- x" for _ in range(n)) + "\n-->",
    "unclosed fences": lambda n: "\n".join("```" if i % 3 else "~~~~" for i in range(n)),
    "directives": lambda n: "\n\n".join(f"!refkit m.demo_{i} title='t'" for i in range(n)),
}


@pytest.mark.parametrize("shape", PAGE_SHAPES)
def test_scanning_twice_the_lines_costs_about_twice_the_work(shape):
    make = PAGE_SHAPES[shape]
    small, large = executed_lines(make(1000)), executed_lines(make(2000))
    assert large < 2.5 * small, f"{shape}: {small} lines of work for 1000 lines, {large} for 2000"


def test_deeply_quoted_and_very_long_lines_cost_their_length():
    small = executed_lines("> " * 2000 + "!refkit m.demo_a")
    large = executed_lines("> " * 4000 + "!refkit m.demo_a")
    assert large < 2.5 * small


def test_a_page_of_twenty_thousand_code_lines_still_finds_the_directive_after_them():
    page = "Para\n\n" + "\n".join(f"    x = {i:054d}" for i in range(20_000))
    found, errors = find_directives(page + "\n\n!refkit m.demo_a\n")
    assert errors == [] and [(d.line, d.snippet_id) for d in found] == [(20_004, "m.demo_a")]


def test_options_are_split_as_a_posix_shell_splits_them():
    rng = random.Random(7)
    for _ in range(20_000):
        text = "".join(rng.choice("ab \"'\\=\t#") for _ in range(rng.randint(0, 12)))
        try:
            expected = shlex.split(text)
        except ValueError:
            with pytest.raises(ValueError):
                directive._split_words(text)
        else:
            assert directive._split_words(text) == expected, text
