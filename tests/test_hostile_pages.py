"""Hostile pages and topic modules: each is one message naming its file and line, never a crash.

The fast tests read topic modules in process; the slow ones build real sites with ``mkdocs build``
and check what a reader sees.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import topic_package, zensical

from refkit.engine.discovery import load_catalog
from refkit.engine.references import InvalidReference, Reference

GOOD_TOPIC = 'TITLE = "Good"\n\ndef demo_fine():\n    print("fine")\n'
IMPORT = "from refkit.engine.references import Reference\n"

# What a page must not hold raw: C0 controls but tab and newline, DEL, C1, lone surrogates.
RAW_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")


# --- topic modules whose data has the wrong shape ---------------------------------------------------


@pytest.mark.parametrize(
    ("source", "line", "message"),
    [
        # Reference fields of the wrong type (this crashed rendering, naming no file).
        (
            IMPORT + 'TITLE = "t"\nREFERENCES = (Reference(url=1, title=2, good_for=3),)\n',
            3,
            "url must be a string, not int",
        ),
        (
            IMPORT + 'TITLE = "t"\nREFERENCES = (Reference("https://a.org", 2, "g"),)\n',
            3,
            "title must be a string, not int",
        ),
        (
            IMPORT + 'TITLE = "t"\nREFERENCES = (Reference("https://a.org", "t", None),)\n',
            3,
            "good_for must be a string, not NoneType",
        ),
        (
            IMPORT + 'TITLE = "t"\nREFERENCES = (Reference("https://a.org", "t", "g", 3),)\n',
            3,
            "search_query must be a string or None, not int",
        ),
        (
            IMPORT + 'TITLE = "t"\nREFERENCES = (Reference("https://a.org", " ", "g"),)\n',
            3,
            "title must not be empty",
        ),
        # Unhashable literals (these ended every build in a TypeError traceback).
        (
            IMPORT + 'TITLE = "t"\nREFERENCES = (Reference({1, [2]}, "t", "g"),)\n',
            3,
            "Reference(...) arguments must be literals (TypeError: unhashable type: 'list')",
        ),
        ("TITLE = {1, [2]}\n", 1, "TITLE must be a string literal (TypeError"),
        ("TITLE = {[1]: 2}\n", 1, "TITLE must be a string literal (TypeError"),
        # TITLE of the wrong shape.
        ("TITLE = 3\n", 1, "TITLE must be a non-empty string, not int"),
        ('TITLE = ""\n', 1, "TITLE must be a non-empty string, not an empty string"),
        ('TITLE = ("a", "b")\n', 1, "TITLE must be a non-empty string, not tuple"),
        ('TITLE = f"{1}"\n', 1, "TITLE must be a string literal"),
        # REFERENCES of the wrong shape.
        ('TITLE = "t"\nREFERENCES = 3\n', 2, "REFERENCES must be a tuple of Reference(...) calls"),
        ('TITLE = "t"\nREFERENCES = OTHER + ()\n', 2, "REFERENCES must be a tuple"),
        (IMPORT + 'TITLE = "t"\nREFERENCES = (Reference(*ARGS),)\n', 3, "must be literals"),
        (IMPORT + 'TITLE = "t"\nREFERENCES = (Reference(**KW),)\n', 3, "must be literals"),
        # Files Python cannot parse in the usual way.
        ('TITLE = "t"\nX = ' + "+".join(["1"] * 200_000) + "\n", 1, "nested too deeply to parse"),
        ('TITLE = "t"\nX = ' + "-" * 100_000 + "1\n", 1, "nested too deeply to parse"),
        ('TITLE = "t"\x00\n', 1, "syntax error"),
    ],
)
def test_module_data_of_any_shape_is_one_error_naming_file_and_line(
    tmp_path, source, line, message
):
    package = topic_package(tmp_path / "pkg")
    (package / "good.py").write_text(GOOD_TOPIC, encoding="utf-8")
    (package / "odd.py").write_text(source, encoding="utf-8")
    catalog = load_catalog(package)
    assert list(catalog.topics) == ["good"]  # the rest of the site builds
    [error] = catalog.errors
    assert (error.path.name, error.line) == ("odd.py", line)
    assert message in error.reason
    # The message names the file as the project does: it may reach a page.
    assert str(error).startswith(f"pkg/odd.py:{line}: ") and str(tmp_path) not in str(error)


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "JAVASCRIPT:alert(1)",
        " javascript:alert(1)",
        "java\tscript:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "vbscript:x",
        "file:///etc/passwd",
        "ftp://example.org/x",
        "mailto:a@example.org",
        "/docs/page",
        "example.org/page",
        "//example.org/page",
        "https:/example.org",
        "https:example.org",
        "http://",
        "https://:443/x",
        "https://example.org:port/",
        "https://example.org/a b",
        "https://example.org/\x1b[31m",
        "",
    ],
)
def test_a_reference_that_is_not_an_http_address_is_an_error_naming_its_line(tmp_path, url):
    package = topic_package(tmp_path / "pkg")
    (package / "good.py").write_text(GOOD_TOPIC, encoding="utf-8")
    (package / "links.py").write_text(
        f'{IMPORT}TITLE = "t"\nREFERENCES = (\n    Reference(\n        {url!r},\n'
        '        "A title",\n        "Good for it.",\n    ),\n)\n',
        encoding="utf-8",
    )
    catalog = load_catalog(package)
    assert list(catalog.topics) == ["good"]
    [error] = catalog.errors
    assert error.line == 5  # the line of the address, inside the call
    assert "url must be an http(s) address with a host" in error.reason


@pytest.mark.parametrize(
    "url",
    [
        "https://example.org",
        "HTTPS://EXAMPLE.ORG/A",
        "http://127.0.0.1:8000/x?y=1&z=2",
        "https://[::1]/",
        "https://de.wikipedia.org/wiki/Übung",
        "https://example.org/#:~:text=two%20words",
    ],
)
def test_http_addresses_are_references(url):
    assert Reference(url, "T", "G").url == url


def test_a_reference_made_in_code_checks_itself_and_names_the_field():
    with pytest.raises(InvalidReference) as caught:
        Reference(url=1, title=2, good_for=3)
    assert caught.value.field == "url"
    with pytest.raises(InvalidReference, match="javascript"):
        Reference("javascript:alert(1)", "T", "G")


def test_a_topic_module_saved_with_a_byte_order_mark_is_read(tmp_path):
    package = topic_package(tmp_path / "pkg")
    (package / "bom.py").write_text("\ufeff" + GOOD_TOPIC, encoding="utf-8")
    catalog = load_catalog(package)
    assert catalog.errors == [] and catalog.topics["bom"].title == "Good"


def test_a_module_without_title_is_no_topic_whatever_else_it_holds(tmp_path):
    package = topic_package(tmp_path / "pkg")
    (package / "helpers.py").write_text("REFERENCES = 3\nX = {1, [2]}\n", encoding="utf-8")
    catalog = load_catalog(package)
    assert catalog.topics == {} and catalog.errors == []


# --- real builds -------------------------------------------------------------------------------------

CONTROL_TOPIC = r"""
import sys
TITLE = "Control characters"

class Html:
    def _repr_html_(self):
        return '<b title="t\x1bt">\x00bold</b>'

def demo_prints_controls():
    print("nul:\x00 ansi:\x1b[31mred\x1b[0m del:\x7f c1:\x85\x9b bell:\x07 cr:\r tab:\t.")
    sys.stderr.write("err \x1b[1mbold\x1b[0m\n")
    return "returned \x00\x1b"

def demo_raises_controls():
    raise ValueError("bad \x1b[31m\x00 value \ud800")

def demo_returns_html():
    return Html()
"""


@pytest.mark.slow
def test_control_characters_from_snippets_show_on_the_page_and_never_raw(site):
    site.write_topic("ctl", CONTROL_TOPIC)
    site.write_page(
        "index.md",
        '# Controls\n\n!refkit ctl.demo_prints_controls title="T\x1b[1mitle"\n\n'
        "!refkit ctl.demo_raises_controls\n\n!refkit ctl.demo_returns_html\n",
    )
    done = site.build(env={"REFKIT_ON_ERROR": "warn"})
    assert done.returncode == 0, done.stderr
    html = site.html()
    assert RAW_CONTROL.search(html) is None
    nul, esc, c1, bel, cr = (
        f'<span class="refkit-control">{escape}</span>'
        for escape in (r"\x00", r"\x1b", r"\x85\x9b", r"\x07", r"\x0d")
    )
    assert f"nul:{nul} ansi:{esc}[31mred{esc}[0m del:" in html  # stdout
    assert f"c1:{c1} bell:{bel} cr:{cr} tab:\t." in html
    assert f"err {esc}[1mbold" in html  # stderr
    assert "returned</span> &#x27;returned \\x00\\x1b&#x27;" in html  # a repr escapes them itself
    assert re.search(
        r'<h2 id="[^"]*">T\\x1b\[1mitle</h2>', html
    )  # the title: a heading, plain escapes
    assert f"ValueError: bad {esc}[31m{nul} value" in html  # the traceback
    assert '<b title="t\\x1bt">\\x00bold</b>' in html  # raw HTML: plain escapes
    assert "\x1b" not in done.stderr  # and the build log obeys no escape either


DIRECTIVE_TOPIC = """
from pathlib import Path
TITLE = "Contexts"

def demo_quoted():
    print("quoted output")

def demo_commented_out():
    Path(MARKER).write_text("ran")
    print("SHOULD NOT BE ON THE PAGE")

def demo_plain():
    print("plain output")
"""


@pytest.mark.slow
def test_directives_in_quotes_run_in_comments_do_not_and_near_misses_warn(site):
    marker = site.root / "commented-out-ran.txt"
    site.write_topic("ctx", DIRECTIVE_TOPIC.replace("MARKER", repr(str(marker))))
    page = (
        "# Contexts\n\n"
        "> Quoted:\n>\n> !refkit ctx.demo_quoted source=collapsed\n\n"  # lines 3-5
        "<!--\n!refkit ctx.demo_commented_out\n-->\n\n"  # lines 7-9
        "<!-- !refkit ctx.demo_commented_out -->\n\n"  # line 11
        "!refkitt ctx.demo_plain\n\n"  # line 13
        "! refkit ctx.demo_plain\n\n"  # line 15
        "> ```\n> !refkit ctx.demo_commented_out\n> ```\n\n"  # lines 17-19: code in a quote
        "!refkit ctx.demo_plain\n"  # line 21
    )
    site.write_page("index.md", page)
    done = site.build()
    assert done.returncode == 0, done.stderr
    assert not marker.exists(), "a commented-out snippet ran"
    html = site.html()
    quote = html[html.index("<blockquote>") : html.index("</blockquote>")]
    assert "<p>Quoted:</p>" in quote and "quoted output" in quote  # inside the quote
    assert "Source of demo_quoted" in quote  # with its collapsed source
    assert "SHOULD NOT BE ON THE PAGE" not in html
    assert "plain output" in html and "<p>!refkitt ctx.demo_plain</p>" in html
    for line in (13, 15):
        assert re.search(
            rf'index\.md:{line}: not a directive, left as text \(did you mean "!refkit ctx\.demo_plain"\?\)',
            done.stderr,
        ), done.stderr
    assert done.stderr.count("not a directive") == 2  # nothing about the comments or the code


BAD_TOPICS = {
    "wrong_types": IMPORT + 'TITLE = "W"\nREFERENCES = (Reference(url=1, title=2, good_for=3),)\n',
    "unhashable": IMPORT + 'TITLE = "U"\nREFERENCES = (Reference({1, [2]}, "t", "g"),)\n',
    "unhashable_title": "TITLE = {1, [2]}\n",
    "script_link": IMPORT
    + 'TITLE = "S"\nREFERENCES = (\n    Reference("javascript:alert(1)", "Click", "Runs."),\n)\n',
}


@pytest.mark.slow
def test_bad_topic_metadata_is_one_warning_per_file_and_the_rest_of_the_site_builds(site):
    site.write_topic(
        "good",
        IMPORT
        + 'TITLE = "Good"\nREFERENCES = (Reference("https://example.org/a", "A", "Shows A."),)\n'
        + 'def demo_fine():\n    print("fine output")\n',
    )
    for name, source in BAD_TOPICS.items():
        site.write_topic(name, source + "\ndef demo_x():\n    print('x')\n")
        site.write_page(
            f"{name}.md", f"---\ntopic: {name}\n---\n# {name}\n\n!refkit {name}.demo_x\n"
        )
    site.write_page("index.md", "---\ntopic: good\n---\n# Good\n\n!refkit good.demo_fine\n")
    done = site.build()
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    lines = {"wrong_types": 3, "unhashable": 3, "unhashable_title": 1, "script_link": 4}
    for name, line in lines.items():
        assert re.search(rf"topics/{name}\.py:{line}: topic module skipped: ", done.stderr), name
        page = site.html(f"{name}/index.html")
        assert "its topic module failed to parse" in page
        assert f"topics/{name}.py:{line}:" in page and str(site.root) not in page
    good = site.html()
    assert "fine output" in good and 'href="https://example.org/a"' in good
    assert 'href="javascript' not in site.html("script_link/index.html")

    # Every subcommand reads the same catalog: each says what is wrong, none raises.
    refkit = Path(sys.executable).with_name("refkit")
    for command in (["list"], ["check", "good.demo_fine"], ["run", "good.demo_fine"]):
        ran = subprocess.run(
            [str(refkit), *command],
            cwd=site.root,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert "Traceback" not in ran.stderr, (command, ran.stderr)
        assert ran.returncode in (0, 1), (command, ran.stderr)


@pytest.mark.slow
def test_the_drift_notice_names_the_approved_file_as_the_repository_does(site):
    site.write_topic("d", 'TITLE = "D"\n\ndef demo_now():\n    print("live 2")\n')
    approved = site.root / "approved" / "d" / "demo_now.txt"
    approved.parent.mkdir(parents=True)
    approved.write_text("live 1\n", encoding="utf-8")
    site.write_page("index.md", "# D\n\n!refkit d.demo_now\n")
    done = site.build()
    assert done.returncode == 0, done.stderr
    html = site.html()
    assert "The live output above differs from approved/d/demo_now.txt." in html
    assert "--- approved/d/demo_now.txt (approved)" in html
    assert str(site.root) not in html
    assert "--- approved/d/demo_now.txt (approved)" in done.stderr


@pytest.mark.slow
def test_under_zensical_quotes_comments_and_control_characters_read_the_same(tmp_path):
    project = tmp_path / "z"
    (project / "notes").mkdir(parents=True)
    (project / "notes" / "__init__.py").write_text("", encoding="utf-8")
    marker = project / "commented-out-ran.txt"
    (project / "notes" / "ctx.py").write_text(
        DIRECTIVE_TOPIC.replace("MARKER", repr(str(marker)))
        + '\ndef demo_ansi():\n    print("red:\\x1b[31mred\\x00")\n',
        encoding="utf-8",
    )
    (project / "docs").mkdir()
    (project / "docs" / "index.md").write_text(
        "# Z\n\n> !refkit ctx.demo_quoted\n\n<!--\n!refkit ctx.demo_commented_out\n-->\n\n"
        "!refkit ctx.demo_ansi\n\n!refkitt ctx.demo_plain\n",
        encoding="utf-8",
    )
    (project / "mkdocs.yml").write_text(
        "site_name: z\nplugins:\n  - refkit:\n      package_dir: notes\n      timeout: 20\n"
        "markdown_extensions:\n  - admonition\n  - pymdownx.details\n  - pymdownx.superfences\n"
        "  - refkit\n",
        encoding="utf-8",
    )
    done = zensical(project, "build", "--clean")
    assert done.returncode == 0, done.stderr
    html = (project / "site" / "index.html").read_text(encoding="utf-8")
    assert RAW_CONTROL.search(html) is None
    assert 'red:<span class="refkit-control">\\x1b</span>[31mred' in html
    quote = html[html.index("<blockquote>") : html.index("</blockquote>")]
    assert "quoted output" in quote
    assert not marker.exists() and "SHOULD NOT BE ON THE PAGE" not in html
    assert re.search(r"index\.md:11: not a directive, left as text", done.stderr), done.stderr
