"""The build session on small fixture packages, in-process: what every front door relies on."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from conftest import topic_package

from refkit.engine.assemble import Block, assemble_page, block_html
from refkit.engine.render import SOURCE_CLOSE_HTML, SOURCE_OPEN_HTML
from refkit.engine.session import BuildSession, PageSource, SessionError, plan_page
from refkit.engine.settings import Settings

TOPIC = '''
"""A topic for session tests."""
from refkit.engine.references import Reference

TITLE = "Session"
REFERENCES = (Reference("https://example.org/a", "A <b>", "Explains."),)


def demo_fast():
    """Print."""
    print("fast <s>")


def demo_slow():
    """Print later."""
    import time
    time.sleep(1.5)
    print("slow")


def demo_raises():
    """Raise."""
    raise ValueError("no")
'''


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (topic_package(tmp_path / "notes") / "session.py").write_text(textwrap.dedent(TOPIC))
    return tmp_path


def open_session(project: Path, mode="build", **options) -> BuildSession:
    settings = Settings.resolve(
        {"package_dir": "notes", "timeout": 20, **options}, environ={}, project_dir=project
    )
    return BuildSession.open(settings, mode)


PAGE = "---\ntopic: session\n---\n# P\n\n!refkit session.demo_fast\n\n- item\n\n    !refkit session.demo_nope\n"


def test_a_page_plan_counts_lines_from_the_top_of_the_file():
    plan = plan_page(PageSource("p.md", PAGE))
    assert plan.topic == "session"
    assert [(d.snippet_id, d.line) for d in plan.directives] == [
        ("session.demo_fast", 6),
        ("session.demo_nope", 10),
    ]
    assert plan.body.startswith("# P") and plan.body_line == 4


def test_a_missing_package_or_cuda_without_a_gpu_is_one_clear_error(project):
    with pytest.raises(SessionError, match="package_dir 'elsewhere' is not a folder"):
        open_session(project, package_dir="elsewhere")
    from refkit.engine.device import gpu_visible

    if not gpu_visible():
        with pytest.raises(SessionError, match="shows no NVIDIA GPU"):
            open_session(project, device="cuda")


def test_assembled_page_names_problems_with_file_lines_and_appends_references(project):
    session = open_session(project, execute="never")
    plan = session.plan([PageSource("p.md", PAGE + "\n!refkit session.demo_fast\n")])[0]
    blocks: list[Block] = []

    def placeholder(block: Block) -> str:
        blocks.append(block)
        return f"BLOCK{len(blocks) - 1}"

    markdown, problems = assemble_page(
        session,
        "p.md",
        plan.body,
        first_line=plan.body_line,
        topic="session",
        placeholder=placeholder,
    )
    assert [str(p) for p in problems] == [
        "p.md:10: unknown snippet id 'session.demo_nope'; closest known: session.demo_slow, "
        "session.demo_raises, session.demo_fast",
        "p.md:12: snippet session.demo_fast is embedded twice on this page",
    ]
    assert "def demo_fast" not in markdown  # the listing is a block: the host never converts it
    assert markdown.rstrip().endswith(f"## References\n\nBLOCK{len(blocks) - 1}")
    # A source listing is kept out of the search index; its identifiers stand in for it.
    # The listing goes before the snippet's output, in the output's block.
    listed = next(b for b in blocks if b.html.startswith(SOURCE_OPEN_HTML))
    assert listed.kind == "output" and listed.snippet is not None
    assert listed.html.endswith(SOURCE_CLOSE_HTML)  # no identifiers line: print is a builtin
    assert '<span class="nf">demo_fast</span>' in listed.html
    assert "A &lt;b&gt;</a>" in blocks[-1].html
    assert "    BLOCK" in markdown  # the indented directive keeps its indent
    _, unknown_topic = assemble_page(
        session, "q.md", "# Q\n", first_line=1, topic="nope", placeholder=placeholder
    )
    assert [str(p) for p in unknown_topic] == ["q.md: front matter names unknown topic 'nope'"]


def test_waiting_for_one_snippet_does_not_wait_for_the_others(project):
    session = open_session(project, execute="always")
    try:
        session.start(["session.demo_slow", "session.demo_fast"])
        session.wait(["session.demo_fast"])
        assert session.result("session.demo_fast").output_text == "fast <s>\n"
        assert session.result("session.demo_slow") is None  # still running
        session.wait()
        assert session.result("session.demo_slow").output_text == "slow\n"
        assert session.stats.executed == 2
    finally:
        session.close()


def test_a_raising_snippet_is_fatal_only_in_a_one_off_build_that_asks_for_it(project):
    verdicts = {}
    for mode, on_error in (("build", "fail"), ("build", "warn"), ("serve", "fail")):
        session = open_session(project, mode=mode, on_error=on_error, execute="always")
        try:
            session.run(["session.demo_raises"])
            snippet = session.catalog.snippets["session.demo_raises"]
            html, problems = block_html(session, Block("output", snippet=snippet, where="p.md:3"))
        finally:
            session.close()
        assert "Snippet session.demo_raises raised ValueError" in html
        [problem] = problems
        assert problem.where == "p.md:3" and "ValueError: no" in problem.message
        verdicts[mode, on_error] = problem.fatal
    assert verdicts == {("build", "fail"): True, ("build", "warn"): False, ("serve", "fail"): False}


def test_a_saved_module_reruns_only_the_snippets_whose_code_changed(project):
    session = open_session(project, execute="auto", cache_dir="cache")
    try:
        session.run(["session.demo_fast", "session.demo_raises"])
        path = project / "notes" / "session.py"
        path.write_text(path.read_text().replace('print("fast <s>")', 'print("faster")'))
        assert session.begin_build() == {"session.demo_fast"}
        assert session.result("session.demo_fast") is None  # the old output is not current
        session.run(["session.demo_fast", "session.demo_raises"])
        assert session.result("session.demo_fast").output_text == "faster\n"
        # The failure runs again (failures are never kept), the unchanged success does not.
        assert sorted(session.stats.executed_ids) == ["session.demo_fast", "session.demo_raises"]
    finally:
        session.close()


def test_drift_and_status_against_approved_outputs(project):
    session = open_session(project, execute="auto", cache_dir="cache")
    try:
        result = session.run(["session.demo_fast"])[0]["session.demo_fast"]
    finally:
        session.close()
    assert session.status(result) == "new"
    approved = project / "approved" / "session" / "demo_fast.txt"
    approved.parent.mkdir(parents=True)
    approved.write_text("fast <s>\n")
    assert session.status(result) == "approved" and session.drift("session.demo_fast") is None
    approved.write_text("slow <s>\n")
    session.begin_build()
    assert session.status(result) == "drift"
    assert "-slow <s>\n+fast <s>" in session.drift("session.demo_fast").diff


def test_a_page_is_recognised_by_its_text(project):
    session = open_session(project, execute="never")
    session.plan([PageSource("a.md", "# A\n"), PageSource("b/c.md", PAGE)])
    assert session.page_for_body(plan_page(PageSource("x", PAGE)).body).path == "b/c.md"
    assert session.page_for_body("# Z\n") is None


def worker_running(session) -> bool:
    """Whether the default environment's worker process has been started."""
    runner = session._runners.get("default")
    return runner is not None and runner._worker is not None


def test_run_ahead_starts_the_worker_only_when_the_cache_lacks_something(project):
    session = open_session(project, execute="auto", cache_dir="cache")
    try:
        session.run_ahead()
        assert worker_running(session)
        session.run(list(session.catalog.snippets))
        session.close()
        assert not session._runners
        session.run_ahead()  # everything that can be cached is: no worker for a warm build
        assert not worker_running(session)
    finally:
        session.close()


def test_run_ahead_ignores_a_stale_snippet_that_no_page_embeds(project):
    """A snippet written before its page would otherwise start the worker in every warm build."""
    docs = project / "docs"
    docs.mkdir()
    (docs / "p.md").write_text(PAGE)  # embeds session.demo_fast only
    session = open_session(project, execute="auto", cache_dir="cache")
    try:
        session.run(["session.demo_fast"])
        session.close()
        assert [s for s in session.catalog.snippets if s != "session.demo_fast"]  # others stale
        session.run_ahead(docs)
        assert not worker_running(session)
        (docs / "q.md").write_text("!refkit session.demo_raises\n")  # now a page embeds one
        session.run_ahead(docs)
        assert worker_running(session)
    finally:
        session.close()


def test_a_build_started_ahead_is_carried_on_by_the_next_build(project):
    """A watcher's start_ahead runs the saved snippet once; the rebuild waits for that run."""
    session = open_session(project, mode="serve", execute="auto", cache_dir="cache")
    try:
        session.plan([PageSource("p.md", PAGE)])
        session.run(["session.demo_fast"])
        session.end_build()
        path = project / "notes" / "session.py"
        path.write_text(path.read_text().replace('print("fast <s>")', 'print("ahead")'))
        assert session.start_ahead() == {"session.demo_fast"}
        # The rebuild that follows: the same change, the run already under way.
        assert session.begin_build() == {"session.demo_fast"}
        session.plan([PageSource("p.md", PAGE)])
        session.start()
        assert session.wait() == []
        assert session.result("session.demo_fast").output_text == "ahead\n"
        assert session.stats.executed_ids == ["session.demo_fast"]  # once, and counted
        # Until a host says its pages are written, the change is still owed to them.
        assert session.begin_build() == {"session.demo_fast"}
        session.end_build()
        assert session.begin_build() == set()
    finally:
        session.close()


def test_an_unreadable_environments_declaration_is_a_problem_at_its_line(project):
    module = project / "notes" / "session.py"
    module.write_text(module.read_text() + '\nENVIRONMENTS = {"demo_fast": [1]}\n')
    line = module.read_text().splitlines().index('ENVIRONMENTS = {"demo_fast": [1]}') + 1
    session = open_session(project)
    try:
        problems = session.catalog_problems()
        assert [(p.where, p.fatal) for p in problems] == [(f"notes/session.py:{line}", False)]
        assert "ENVIRONMENTS['demo_fast'] must be environment names" in problems[0].message
        assert session.environments_of("session.demo_fast") == ("default",)  # ignored
    finally:
        session.close()


def test_a_package_outside_the_project_folder_names_its_declaration_problem_too(tmp_path):
    # package_dir "../notes", through a symlinked project folder: paths that compare only
    # once resolved.
    (topic_package(tmp_path / "notes") / "t.py").write_text(
        'TITLE = "T"\n\ndef demo_a():\n    print(1)\n\nENVIRONMENTS = {"demo_a": [1]}\n'
    )
    (tmp_path / "real").mkdir()
    (tmp_path / "project").symlink_to(tmp_path / "real", target_is_directory=True)
    settings = Settings.resolve(
        {"package_dir": "../notes"}, environ={}, project_dir=tmp_path / "project"
    )
    session = BuildSession.open(settings)
    try:
        [problem] = session.catalog_problems()
        assert problem.where == "notes/t.py:6"
    finally:
        session.close()


def test_the_default_environments_stamp_versions_are_read_once_a_build(project, monkeypatch):
    import refkit.engine.session as session_module

    reads: list[tuple[str, ...]] = []

    def counted(names):
        reads.append(tuple(names))
        return {"keras": f"3.{len(reads)}"}

    monkeypatch.setattr(session_module, "running_versions", counted)
    session = open_session(project, execute="never")
    first = session.stamp_versions("default")
    first["keras"] = "edited by a caller"  # a copy: the kept answer is not changed
    assert session.stamp_versions("default") == {"keras": "3.1"}
    assert len(reads) == 1
    session.end_build()  # a package upgraded under `mkdocs serve` shows in the next build
    assert session.stamp_versions("default") == {"keras": "3.2"}
    assert len(reads) == 2
