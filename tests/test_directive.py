import pytest

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
