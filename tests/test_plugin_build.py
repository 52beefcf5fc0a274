"""Full builds of small fixture sites, in real ``mkdocs build`` subprocesses."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest
from conftest import REPO, make_site

from refkit.engine.listings import STORE_NAME

pytestmark = pytest.mark.slow

HOSTILE_TOPIC = '''
TITLE = "Hostile"

def demo_hostile():
    """Prints markup that must never reach the page as markup."""
    print("</pre><script>alert(1)</script> <s> tokens </s> <pad>")
'''

FAILING_TOPIC = """
import os, time
TITLE = "Failing"

def demo_fine():
    print("fine output")

def demo_raises():
    value = {"a": 1}
    return value["missing key"]

def demo_hangs():
    time.sleep(120)

def demo_exits():
    os._exit(5)

def demo_segfaults():
    import ctypes
    ctypes.string_at(0)
"""


def test_build_shows_source_output_and_stamp_all_escaped(site):
    site.write_topic("hostile", HOSTILE_TOPIC)
    site.write_page("index.md", '# Page\n\n!refkit hostile.demo_hostile title="A <b>title</b>"\n')
    done = site.build("--strict")
    assert done.returncode == 0, done.stderr
    html = site.html()
    assert "<script>alert(1)</script>" not in html
    assert (
        "&lt;/pre&gt;&lt;script&gt;alert(1)&lt;/script&gt; &lt;s&gt; tokens &lt;/s&gt; &lt;pad&gt;"
        in html
    )
    # The title is a heading below the page's "# Page": in the table of contents, linkable.
    assert re.search(r"<h2 id=\"[^\"]+\">A &lt;b&gt;title&lt;/b&gt;</h2>", html)
    assert "demo_hostile" in html  # the highlighted source
    assert re.search(r'<p class="refkit-stamp">Ran on cpu · Python [\d.]+ · torch ', html)


def test_a_developers_refkit_variables_never_reach_the_builds_of_the_tests(tmp_path):
    # The test above, run by a pytest started from a shell whose REFKIT_* settings would each
    # break it: directives left as text, nothing run, no such package, a bad value.
    developer = {
        "REFKIT_ENABLED": "false",
        "REFKIT_EXECUTE": "never",
        "REFKIT_PACKAGE_DIR": "nowhere",
        "REFKIT_JOBS": "two",
    }
    test = f"{__file__}::test_build_shows_source_output_and_stamp_all_escaped"
    pytest_command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
    done = subprocess.run(
        [*pytest_command, "-p", "no:xdist", "--basetemp", str(tmp_path / "inner"), test],
        cwd=REPO,
        env={**os.environ, **developer},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "1 passed" in done.stdout


def test_a_raising_snippet_fails_the_build_naming_page_line_snippet_and_frames(site):
    site.write_topic("failing", FAILING_TOPIC)
    site.write_page("index.md", "---\ntitle: x\n---\n# Page\n\n!refkit failing.demo_raises\n")
    done = site.build()
    assert done.returncode != 0
    assert (
        "index.md:6: snippet failing.demo_raises (failing.py:8) error: KeyError: 'missing key'"
        in done.stderr
    )
    assert 'return value["missing key"]' in done.stderr  # its last frames


def test_on_error_warn_builds_with_a_panel_and_strict_fails(site):
    site.write_topic("failing", FAILING_TOPIC)
    site.write_page("index.md", "# Page\n\n!refkit failing.demo_raises\n")
    relaxed = site.build(env={"REFKIT_ON_ERROR": "warn"})
    assert relaxed.returncode == 0, relaxed.stderr
    assert "Snippet failing.demo_raises raised KeyError" in site.html()
    strict = site.build("--strict", env={"REFKIT_ON_ERROR": "warn"})
    assert strict.returncode != 0
    assert "failing.demo_raises" in strict.stderr


def test_hangs_and_crashes_become_panels_and_the_rest_still_builds(site):
    site.write_topic("failing", FAILING_TOPIC)
    site.write_page(
        "index.md",
        "# Bad\n\n!refkit failing.demo_hangs\n\n!refkit failing.demo_exits\n\n!refkit failing.demo_segfaults\n",
    )
    site.write_page("good.md", "# Good\n\n!refkit failing.demo_fine\n")
    # With the default on_error (fail): only an exception stops a build; these are warnings.
    done = site.build(env={"REFKIT_TIMEOUT": "2"})
    assert done.returncode == 0, done.stderr
    for snippet, status in [("hangs", "timeout"), ("exits", "crashed"), ("segfaults", "crashed")]:
        assert "index.md:" in done.stderr and f"failing.demo_{snippet}" in done.stderr
        assert re.search(
            rf"WARNING .*failing\.demo_{snippet} \(failing\.py:\d+\) {status}", done.stderr
        )
    bad = site.html()
    assert "Snippet failing.demo_hangs timed out" in bad
    assert "killed after running for more than 2.0 s" in bad
    assert "exited with code 5" in bad
    assert "killed by signal SIGSEGV" in bad
    assert "fine output" in site.html("good/index.html")
    # --strict turns those warnings into a failed build (failures are never cached: they re-run).
    strict = site.build("--strict", env={"REFKIT_TIMEOUT": "2"})
    assert strict.returncode != 0


@pytest.mark.parametrize("enabled", ["true", "false"])
def test_under_mkdocs_the_plugin_takes_the_extension_out_so_only_one_session_runs(
    tmp_path, monkeypatch, enabled
):
    # One mkdocs.yml for both hosts: the plugin (MkDocs) and the extension (Zensical). Under
    # MkDocs the extension would start a second session and worker at the first page; disabled,
    # it would still read the settings for each of the hundreds of docstrings mkdocstrings
    # converts, which a benchmark's floor build (refkit disabled) must not pay.
    from mkdocs.config import load_config

    monkeypatch.setenv("REFKIT_ENABLED", enabled)

    site = make_site(tmp_path / "both")
    config_file = site.root / "mkdocs.yml"
    options = json.loads(config_file.read_text())
    options["markdown_extensions"] += ["refkit", {"refkit.engine.extension": {"jobs": 1}}]
    config_file.write_text(json.dumps(options))
    config = load_config(str(config_file))
    assert {"refkit", "refkit.engine.extension"} <= set(config.markdown_extensions)
    config = config.plugins.on_config(config)
    try:
        extensions = set(config.markdown_extensions)
        assert not extensions & {"refkit", "refkit.engine.extension"}
        if enabled == "true":
            assert {"pymdownx.superfences", "admonition"} <= extensions
    finally:
        config.plugins.on_shutdown()


def test_warm_rebuild_runs_nothing_and_never_imports_torch(site):
    site.write_topic(
        "tensors",
        """
        import torch
        TITLE = "T"

        def demo_sum():
            print(torch.arange(4).sum().item())

        def demo_mean():
            print(torch.arange(4.0).mean().item())
        """,
    )
    site.write_page("index.md", "# T\n\n!refkit tensors.demo_sum\n\n!refkit tensors.demo_mean\n")
    cold = site.build_and_report()
    assert sorted(cold["executed"]) == ["tensors.demo_mean", "tensors.demo_sum"]
    # The two listings' markup is kept for the next build, which takes it: nothing to
    # highlight, so nothing to store again, and the same markup.
    store = site.root / ".cache" / "refkit" / STORE_NAME
    assert len(json.loads(store.read_text())["entries"]) == 2
    stored_at = store.stat().st_mtime_ns
    source = re.compile(r'<div class="refkit-source".*?<!-- /refkit-source -->', re.S)
    listings = source.findall(site.html())
    assert len(listings) == 2 and all("arange" in listing for listing in listings)
    warm = site.build_and_report()
    assert source.findall(site.html()) == listings
    assert store.stat().st_mtime_ns == stored_at
    assert warm["executed"] == [] and warm["from_cache"] == 2
    for report in (cold, warm):
        assert report["torch_imported"] is False
        assert report["transformers_imported"] is False
        assert report["topic_imported"] is False
    assert "from the cache" in site.html() and "6\n" in site.html()

    # Editing one snippet re-runs only that one. A store that shows other code is not
    # believed: the unchanged listing is highlighted anew, the same markup, and the old sum's goes.
    kept = json.loads(store.read_text())
    kept["entries"] = {key: "evil()" + inner for key, inner in kept["entries"].items()}
    store.write_text(json.dumps(kept))
    topic = site.root / "topics" / "tensors.py"
    topic.write_text(topic.read_text().replace("arange(4).sum()", "arange(5).sum()"))
    edited = site.build_and_report()
    assert edited["executed"] == ["tensors.demo_sum"]
    assert "10\n" in site.html()
    mean = [listing for listing in listings if "mean" in listing]
    assert len(mean) == 1 and mean[0] in site.html() and "evil" not in site.html()
    assert len(json.loads(store.read_text())["entries"]) == 2


def test_unknown_id_is_a_warning_with_the_closest_ids(site):
    site.write_topic("hostile", HOSTILE_TOPIC)
    site.write_page("index.md", "# P\n\ntext\n\n!refkit hostile.demo_hostil\n")
    done = site.build()
    assert done.returncode == 0
    assert (
        "index.md:5: unknown snippet id 'hostile.demo_hostil'; closest known: hostile.demo_hostile"
        in done.stderr
    )
    assert site.build("--strict").returncode != 0


def test_directives_in_code_are_left_as_text(site):
    site.write_topic("hostile", HOSTILE_TOPIC)
    site.write_page(
        "index.md",
        "# P\n\n```\n!refkit hostile.demo_hostile\n```\n\nInline `!refkit hostile.demo_hostile` too.\n",
    )
    done = site.build("--strict")
    assert done.returncode == 0, done.stderr
    html = site.html()
    assert html.count("!refkit hostile.demo_hostile") == 2
    assert "refkit-output" not in html


def test_malformed_directive_options_name_page_and_line(site):
    site.write_topic("hostile", HOSTILE_TOPIC)
    site.write_page("index.md", "# P\n\n!refkit hostile.demo_hostile colour=red\n")
    done = site.build()
    assert "index.md:3: unknown option 'colour' (known: title, source)" in done.stderr


def test_execute_never_shows_a_placeholder_and_env_overrides_config(site):
    site.write_topic("hostile", HOSTILE_TOPIC)
    site.write_page("index.md", "# P\n\n!refkit hostile.demo_hostile\n")
    done = site.build(env={"REFKIT_EXECUTE": "never"})
    assert done.returncode == 0, done.stderr
    assert "No output for hostile.demo_hostile" in site.html()
    assert "tokens" not in site.html().split("refkit-missing")[1]


def test_a_topic_with_a_syntax_error_names_file_and_line_and_others_build(site):
    site.write_topic("hostile", HOSTILE_TOPIC)
    site.write_topic("broken", 'TITLE = "B"\n\ndef demo_x()\n    pass\n')
    site.write_page("index.md", "# P\n\n!refkit hostile.demo_hostile\n\n!refkit broken.demo_x\n")
    done = site.build()
    assert done.returncode == 0, done.stderr
    assert re.search(r"broken\.py:3: topic module skipped: .*syntax error", done.stderr)
    assert "its topic module failed to parse" in site.html()
    assert "tokens &lt;/s&gt;" in site.html()


def test_an_unwritable_cache_is_a_warning_and_the_build_still_works(site):
    site.write_topic("hostile", HOSTILE_TOPIC)
    site.write_page("index.md", "# P\n\n!refkit hostile.demo_hostile\n")
    (site.root / "blocker").write_text("a file where the cache folder should go")
    done = site.build(env={"REFKIT_CACHE_DIR": "blocker/cache"})
    assert done.returncode == 0, done.stderr
    assert "cannot write the result cache" in done.stderr
    assert "tokens &lt;/s&gt;" in site.html()


def test_topic_front_matter_appends_references_that_search_indexes(site):
    site.write_topic(
        "linked",
        """
        from refkit.engine.references import Reference
        TITLE = "Linked"
        REFERENCES = (Reference("https://example.org/a", "Example A", "Shows A.", "how to find a"),)

        def demo_x():
            print("x")
        """,
    )
    site.write_page("index.md", "---\ntopic: linked\n---\n# Linked\n\n!refkit linked.demo_x\n")
    done = site.build("--strict")
    assert done.returncode == 0, done.stderr
    html = site.html()
    assert (
        '<a href="https://example.org/a" target="_blank" rel="noopener noreferrer">Example A</a>'
        in html
    )
    index = json.loads((site.root / "site" / "search" / "search_index.json").read_text())
    texts = " ".join(doc["text"] for doc in index["docs"])
    assert "how to find a" in texts


def test_a_link_found_dead_by_refkit_links_is_marked_with_its_date(site):
    from refkit.engine.links import LinkCache, LinkStatus

    site.write_topic(
        "linked",
        """
        from refkit.engine.references import Reference
        TITLE = "Linked"
        REFERENCES = (
            Reference("https://example.org/gone", "Gone", "Was useful."),
            Reference("https://example.org/alive", "Alive", "Still useful."),
        )

        def demo_x():
            print("x")
        """,
    )
    site.write_page("index.md", "---\ntopic: linked\n---\n# Linked\n\n!refkit linked.demo_x\n")
    cache = LinkCache(site.root / ".cache" / "refkit" / "links.json")
    checked = "2026-11-20T10:00:00Z"
    cache.put(
        LinkStatus(
            "https://example.org/gone", False, 404, None, False, "HTTP 404", checked, "2026-11-01"
        )
    )
    cache.put(LinkStatus("https://example.org/alive", True, 200, None, False, None, checked))
    cache.save()
    done = site.build("--strict")
    assert done.returncode == 0, done.stderr
    items = site.html().split('<ul class="refkit-references">')[1].split("</ul>")[0].split("<li>")
    [gone] = [item for item in items if "example.org/gone" in item]
    [alive] = [item for item in items if "example.org/alive" in item]
    assert "Link found dead on 2026-11-01." in gone
    assert "refkit-dead" not in alive


def test_package_and_approved_folders_can_be_set_from_the_environment(site):
    site.write_topic("hostile", HOSTILE_TOPIC)  # in topics/, the folder mkdocs.yml names
    other = site.root / "other_topics"
    other.mkdir()
    (other / "__init__.py").write_text("")
    (other / "hostile.py").write_text(
        'TITLE = "Other"\ndef demo_hostile():\n    print("other package")\n'
    )
    approved = site.root / "other_approved" / "hostile"
    approved.mkdir(parents=True)
    (approved / "demo_hostile.txt").write_text("what was approved\n")
    site.write_page("index.md", "# P\n\n!refkit hostile.demo_hostile\n")
    env = {"REFKIT_PACKAGE_DIR": "other_topics", "REFKIT_APPROVED_DIR": "other_approved"}
    done = site.build(env=env)
    assert done.returncode == 0, done.stderr
    assert "other package" in site.html()
    assert "hostile.demo_hostile no longer gives its approved output" in done.stderr
    assert "-what was approved" in done.stderr and "+other package" in done.stderr


def test_a_cold_build_reports_progress_in_a_few_log_lines(site):
    site.write_topic(
        "many",
        'TITLE = "Many"\n' + "".join(f"def demo_{n}():\n    print({n})\n" for n in range(12)),
    )
    site.write_page(
        "index.md", "# M\n\n" + "\n\n".join(f"!refkit many.demo_{n}" for n in range(12)) + "\n"
    )
    done = site.build()
    assert done.returncode == 0, done.stderr
    lines = [line for line in done.stderr.splitlines() if "refkit: ran " in line]
    assert 2 <= len(lines) <= 5, lines  # a line per quarter, not one per snippet
    assert lines[-1].endswith("ran 12/12 snippets")
    assert re.search(r"ran \d+/12 snippets, running many\.demo_\d+", "\n".join(lines[:-1]))


def test_progress_on_a_terminal_rewrites_one_line(capsys):
    import sys

    from refkit.engine.progress import ProgressLine

    progress = ProgressLine(print, stream=sys.stderr, tty=True)
    progress(0, 2, ["a.demo_x", "a.demo_y"])
    progress(1, 2, ["a.demo_y"])
    progress(2, 2, [])
    assert capsys.readouterr().err == (
        "\r\x1b[2K[refkit] ran 0/2, running a.demo_x, a.demo_y"
        "\r\x1b[2K[refkit] ran 1/2, running a.demo_y"
        "\r\x1b[2K[refkit] ran 2/2\n"
    )


def test_asking_for_cuda_without_a_gpu_is_one_clear_error(site):
    from refkit.engine.device import gpu_visible

    if gpu_visible():
        pytest.skip("this machine has a GPU")
    site.write_topic("hostile", HOSTILE_TOPIC)
    site.write_page("index.md", "# P\n\n!refkit hostile.demo_hostile\n")
    done = site.build(env={"REFKIT_DEVICE": "cuda"})
    assert done.returncode != 0
    assert (
        "device is 'cuda' (REFKIT_DEVICE or the site's configuration) but this machine shows no "
        "NVIDIA GPU" in done.stderr
    )
    assert "Traceback" not in done.stderr
