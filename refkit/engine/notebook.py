"""A topic page as downloads a reader can run: a Jupyter notebook and a plain ``.py`` script.

Both are made by the build from the page and the results it just showed, so they cannot drift
from it:

- the **notebook** (nbformat 4) opens with a cell that installs the versions the outputs came
  from; then the page's prose and headings become Markdown cells, and each demonstration a code
  cell that runs on its own (:func:`~refkit.engine.standalone.standalone_source`: its imports
  and the package helpers it uses, inlined) and carries the output the page shows: printed
  text as streams, figures as SVG, views as HTML, a failure as an error, the return value as
  the cell's result. Cell ids are numbered, never random, so the same page makes the same bytes;
- the **script** defines every demonstration of the page once, sharing the helpers, and runs
  them in page order under ``if __name__ == "__main__":``.

Only the standard library and nbformat (imported when a notebook is made) are used; no host.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from refkit.engine.directive import Directive, find_directives, heading_levels
from refkit.engine.results import DISPLAY, SnippetResult
from refkit.engine.standalone import standalone_program, standalone_source

__all__ = ["PageDownloads", "colab_url", "page_downloads", "pinned_requirements"]

_OUTPUT_STREAM = {"stdout": "stdout", "stderr": "stderr", "warning": "stderr", "log": "stderr"}


@dataclass(frozen=True)
class PageDownloads:
    """The two downloads of one page, as text ready to write."""

    notebook: str
    script: str


def pinned_requirements(results: Sequence[SnippetResult]) -> list[str]:
    """The packages a page's demonstrations need, pinned to the versions its outputs came from.

    torch, transformers and tokenizers come from the results' environment stamp (a local build
    tag such as ``+cpu`` is dropped: the install chooses the build for its machine);
    matplotlib from this process, which drew the figures' pages.

    Examples:
        >>> from refkit.engine.results import OK, RunEnvironment
        >>> env = RunEnvironment("3.11.7", "2.13.0+cpu", "5.24.0", "0.23.3", "cpu")
        >>> pinned_requirements([SnippetResult("m.f", OK, environment=env)])[:3]
        ['torch==2.13.0', 'transformers==5.24.0', 'tokenizers==0.23.3']
    """
    environment = next((r.environment for r in results if r.environment is not None), None)
    pins: list[str] = []
    if environment is not None:
        for name in ("torch", "transformers", "tokenizers"):
            version = getattr(environment, name).split("+")[0]
            if re.fullmatch(r"[0-9][0-9A-Za-z.]*", version):
                pins.append(f"{name}=={version}")
    with contextlib.suppress(metadata.PackageNotFoundError):
        pins.append(f"matplotlib=={metadata.version('matplotlib')}")
    return pins


def colab_url(repo_url: str, branch: str, site_path: str) -> str | None:
    """The "Open in Colab" address of a notebook published on GitHub, or None off GitHub.

    Colab opens notebooks from a GitHub branch; a site deployed with ``mkdocs gh-deploy`` keeps
    the built notebooks on its ``gh-pages`` branch, so no copy is ever committed by hand.

    Examples:
        >>> colab_url("https://github.com/acme/notes/", "gh-pages", "topics/offsets/offset_alignment.ipynb")
        'https://colab.research.google.com/github/acme/notes/blob/gh-pages/topics/offsets/offset_alignment.ipynb'
        >>> colab_url("https://gitlab.com/acme/notes", "gh-pages", "x.ipynb") is None
        True
    """
    found = re.fullmatch(r"https://github\.com/([\w.-]+)/([\w.-]+?)(?:\.git)?/?", repo_url or "")
    if found is None or not branch:
        return None
    owner, repository = found.groups()
    return (
        f"https://colab.research.google.com/github/{owner}/{repository}/blob/{branch}/"
        f"{site_path.lstrip('/')}"
    )


def _snippet_directives(markdown: str) -> list[Directive]:
    directives, _ = find_directives(markdown)
    return [d for d in directives if d.kind == "snippet"]


def _module_and_function(snippet_id: str) -> tuple[str, str]:
    module, _, function = snippet_id.partition(".")
    return module, function


def _title_of(directive: Directive) -> str:
    return directive.title or directive.snippet_id


def page_downloads(
    markdown: str,
    *,
    title: str,
    page: str,
    package_dir: Path,
    results: Mapping[str, SnippetResult],
) -> PageDownloads:
    """The notebook and script of a page.

    Args:
        markdown: The page's Markdown as written (front matter removed).
        title: The page's title, the notebook's first heading.
        page: The page's path in the docs folder, named in both downloads.
        package_dir: The topic package, whose source the demonstrations are copied from.
        results: The result of every snippet the page embeds, by id; a snippet without one
            gets a cell without output.
    """
    directives = _snippet_directives(markdown)
    shown = [results[d.snippet_id] for d in directives if d.snippet_id in results]
    requirements = pinned_requirements(shown)
    stamp = next((r.environment.describe() for r in shown if r.environment is not None), "")
    return PageDownloads(
        notebook=_notebook(
            markdown,
            directives=directives,
            title=title,
            page=page,
            package_dir=package_dir,
            results=results,
            requirements=requirements,
            stamp=stamp,
        ),
        script=_script(directives, title, page, package_dir, requirements),
    )


def _intro(heading: str, page: str, requirements: Sequence[str], stamp: str) -> str:
    """The first cell: where the notebook came from; the title only if the page has none."""
    return (
        heading
        + f"Made by refkit from `{page}`. Every code cell runs on its own: it holds the imports and "
        "the helpers it uses. The outputs are those of the site's build"
        + (f" ({stamp})" if stamp else "")
        + ".\n\nThe first cell installs the versions they came from: "
        + ", ".join(f"`{pin}`" for pin in requirements)
        + "."
    )


def _notebook(
    markdown: str,
    *,
    directives: list[Directive],
    title: str,
    page: str,
    package_dir: Path,
    results: Mapping[str, SnippetResult],
    requirements: Sequence[str],
    stamp: str,
) -> str:
    import nbformat
    from nbformat import v4

    has_title = any(level == 1 for level in heading_levels(markdown))
    heading = "" if has_title else f"# {title}\n\n"
    cells = [
        v4.new_markdown_cell(_intro(heading, page, requirements, stamp)),
        v4.new_code_cell("%pip install --quiet " + " ".join(requirements)),
    ]
    lines = markdown.splitlines()
    start = 0
    level = 1
    for directive in directives:
        prose, level = _prose(lines[start : directive.line - 1], level)
        if prose:
            cells.append(v4.new_markdown_cell(prose))
        start = directive.line
        cells.append(v4.new_markdown_cell(f"{'#' * min(level + 1, 6)} {_title_of(directive)}"))
        module, function = _module_and_function(directive.snippet_id)
        code = standalone_source(package_dir, module, function) + f"\n\n{function}()\n"
        cell = v4.new_code_cell(code)
        result = results.get(directive.snippet_id)
        if result is not None:
            cell.outputs = _outputs(result, len(cells))
            cell.execution_count = len(cells)
        cells.append(cell)
    prose, _ = _prose(lines[start:], level)
    if prose:
        cells.append(v4.new_markdown_cell(prose))
    for number, cell in enumerate(cells, start=1):
        cell["id"] = f"cell-{number}"  # nbformat would pick random ids: the bytes would differ
    notebook = v4.new_notebook(
        cells=cells,
        metadata={
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
            "language_info": {"name": "python"},
        },
    )
    nbformat.validate(notebook)
    return nbformat.writes(notebook)


def _prose(lines: Sequence[str], level: int) -> tuple[str, int]:
    """The Markdown between two demonstrations, and the level of its last heading.

    refkit's table directives are left out; a demonstration's title goes one level below the
    heading it follows, as on the page.
    """
    kept = [line for line in lines if not line.lstrip().startswith("!refkit")]
    found = heading_levels("\n".join(kept))
    return "\n".join(kept).strip("\n"), found[-1][1] if found else level


def _outputs(result: SnippetResult, count: int) -> list[dict]:
    from nbformat import v4

    outputs = []
    for event in result.events:
        if event.stream == DISPLAY:
            data = {"text/plain": event.text}
            if event.html is not None:
                kind = "image/svg+xml" if event.html.lstrip().startswith("<svg") else "text/html"
                data[kind] = event.html
            outputs.append(v4.new_output("display_data", data=data))
        else:
            name = _OUTPUT_STREAM.get(event.stream, "stderr")
            outputs.append(v4.new_output("stream", name=name, text=event.text))
    if result.error is not None:
        outputs.append(
            v4.new_output(
                "error",
                ename=result.error.type,
                evalue=result.error.message,
                traceback=result.error.traceback.splitlines(),
            )
        )
    elif result.return_text is not None or result.return_html is not None:
        data = {"text/plain": result.return_text or ""}
        if result.return_html is not None:
            data["text/html"] = result.return_html
        outputs.append(v4.new_output("execute_result", data=data, execution_count=count))
    return outputs


def _script(
    directives: list[Directive],
    title: str,
    page: str,
    package_dir: Path,
    requirements: Sequence[str],
) -> str:
    functions = list(dict.fromkeys(_module_and_function(d.snippet_id) for d in directives))
    program = standalone_program(package_dir, functions) if functions else ""
    titles = {d.snippet_id: _title_of(d) for d in directives}
    calls = "".join(
        f"    print({'## ' + titles[f'{module}.{function}']!r})\n    {function}()\n"
        for module, function in functions
    )
    # Comments, not a docstring: a title may hold any character, and a comment ends at the line.
    one_line = " ".join(title.split())
    header = (
        f"# {one_line}\n#\n# Made by refkit from {page}: every demonstration of the page, with "
        "the imports and\n# helpers they use. Install the versions its outputs came from, then "
        f"run this file:\n#\n#     pip install {' '.join(requirements)}\n"
    )
    body = program.removeprefix("from __future__ import annotations\n")
    main = f'\n\nif __name__ == "__main__":\n{calls}' if calls else ""
    return f"{header}\nfrom __future__ import annotations\n{body}{main}"
