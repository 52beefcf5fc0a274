"""Scaffold a new topic: its module, its page and its place in the site's navigation.

``refkit new TOPIC`` is a thin wrapper around this module, which imports no host: it decides
what the two new files say (:func:`module_source`, :func:`page_source`), refuses a name that
cannot be a topic (:func:`topic_name_problem`), creates the files without ever overwriting one
(:func:`create_topic`), and adds the page to the ``Topics`` section of ``nav`` in
``mkdocs.yml`` (:func:`add_to_nav`).

The navigation is edited as text, one inserted line, so the file's comments, order and layout
stay as they were; the edit is checked by reading both versions back, and when the file is laid
out in a way one line cannot extend (a flow list, no ``Topics`` section), nothing is edited and
the note says what to add. ``zensical.toml`` is never edited: the note says what to add.
"""

from __future__ import annotations

import contextlib
import json
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from refkit.engine.discovery import SNIPPET_PREFIX
from refkit.engine.worker_process import existing_module, python_name_for

__all__ = [
    "FIRST_SNIPPET",
    "NAV_SECTION",
    "TOPICS_FOLDER",
    "NavEdit",
    "ScaffoldError",
    "TopicPlan",
    "add_to_nav",
    "create_topic",
    "default_title",
    "module_source",
    "nav_note_for_toml",
    "page_source",
    "plan_topic",
    "topic_name_problem",
]

FIRST_SNIPPET = f"{SNIPPET_PREFIX}first"
# This repository's convention: topic pages live in docs/topics/, listed under "Topics".
TOPICS_FOLDER = "topics"
NAV_SECTION = "Topics"

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
# A nav title that YAML reads as the same plain string, unquoted.
_PLAIN_YAML_TITLE = re.compile(r"[A-Za-z][\w ().,'-]*")


class ScaffoldError(ValueError):
    """A topic that cannot be created as asked; the message names the name or the path."""


@dataclass(frozen=True)
class TopicPlan:
    """What ``refkit new`` creates for one topic.

    Attributes:
        topic: The module name, also the page's file name.
        title: The topic's ``TITLE`` and the page's heading.
        module_path: The topic module to create, inside the package folder.
        page_path: The page to create, in the ``topics`` folder of the docs folder.
        nav_entry: The page as ``nav`` names it: relative to the docs folder.
    """

    topic: str
    title: str
    module_path: Path
    page_path: Path
    nav_entry: str

    @property
    def snippet_id(self) -> str:
        """The id of the demonstration the new page embeds."""
        return f"{self.topic}.{FIRST_SNIPPET}"


@dataclass(frozen=True)
class NavEdit:
    """How adding a page to ``nav`` went.

    Attributes:
        text: The configuration file's new text, or ``None`` when it is to stay as it is.
        note: One sentence for the user: what was added, or what to add by hand and where.
    """

    text: str | None
    note: str


def topic_name_problem(topic: str) -> str | None:
    """Why ``topic`` cannot name a new topic module, or ``None`` when it can.

    A topic's name is its module's name: a Python identifier, not a keyword, not starting with
    ``_`` (discovery skips those files), and not the name of a standard-library or installed
    module, because ``python -m doctest`` imports each topic file as a top-level module of that
    name, which would hide the real one (or be hidden by it).

    Examples:
        >>> topic_name_problem("offset_notes") is None
        True
        >>> print(topic_name_problem("my-topic"))
        'my-topic' is not a Python module name (letters, digits and underscores, not starting with a digit); say 'my_topic'.
        >>> print(topic_name_problem("json"))
        'json' is the name of a standard-library module: python -m doctest imports a topic file as a top-level module, so the topic and the real 'json' would hide each other; say 'json_notes'.
        >>> print(topic_name_problem("_draft"))
        '_draft' starts with '_': files whose name starts with '_' are not read as topics; say 'draft'.
    """
    better = python_name_for(topic)
    if better is not None:
        return (
            f"{topic!r} is not a Python module name (letters, digits and underscores, not "
            f"starting with a digit); say {better!r}."
        )
    if topic.startswith("_"):
        return (
            f"{topic!r} starts with '_': files whose name starts with '_' are not read as "
            f"topics; say {topic.lstrip('_') or 'notes'!r}."
        )
    where = existing_module(topic)
    if where is None:
        return None
    return (
        f"{topic!r} is the name of {where}: python -m doctest imports a topic file as a "
        f"top-level module, so the topic and the real {topic!r} would hide each other; say "
        f"{topic + '_notes'!r}."
    )


def _title_problem(title: str) -> str | None:
    if not title.strip():
        return "the title is empty"
    if _CONTROL.search(title):
        return f"the title {title!r} holds a line break or another control character"
    return None


def default_title(topic: str) -> str:
    """The title a topic gets when none is given: its name, as words.

    Examples:
        >>> default_title("offset_alignment")
        'Offset alignment'
    """
    return topic.replace("_", " ").strip().capitalize()


def plan_topic(
    topic: str, *, package_dir: Path, docs_dir: Path, title: str | None = None
) -> TopicPlan:
    """Check that a topic can be created, and say which files it will be.

    Args:
        topic: The new topic's module name.
        package_dir: The folder of the topic modules (``package_dir`` of the settings).
        docs_dir: The site's docs folder; the page goes into its ``topics`` folder.
        title: The topic's title; by default its name as words.

    Returns:
        The plan; nothing is written.

    Raises:
        ScaffoldError: The name cannot be a topic's, a folder is missing, or a file the topic
            needs already exists (the message names it).

    Examples:
        >>> import tempfile
        >>> root = Path(tempfile.mkdtemp())
        >>> for folder in ("notes", "docs"):
        ...     (root / folder).mkdir()
        >>> plan = plan_topic("shapes", package_dir=root / "notes", docs_dir=root / "docs")
        >>> plan.module_path.relative_to(root).as_posix(), plan.nav_entry, plan.title
        ('notes/shapes.py', 'topics/shapes.md', 'Shapes')
        >>> _ = (root / "notes" / "shapes.py").write_text("")
        >>> try:
        ...     plan_topic("shapes", package_dir=root / "notes", docs_dir=root / "docs")
        ... except ScaffoldError as exc:
        ...     print(str(exc).replace(str(root), "<root>"))
        <root>/notes/shapes.py already exists; refkit new never overwrites a file: choose another name, or edit that file.
    """
    problem = topic_name_problem(topic)
    if problem:
        raise ScaffoldError(f"cannot create topic {topic!r}: {problem}")
    title = default_title(topic) if title is None else title.strip()
    problem = _title_problem(title)
    if problem:
        raise ScaffoldError(f"cannot create topic {topic!r}: {problem}")
    if not package_dir.is_dir():
        raise ScaffoldError(
            f"{package_dir} is not a folder: create the topic package there (with an "
            "__init__.py), or set package_dir to the folder of your topic modules"
        )
    if not docs_dir.is_dir():
        raise ScaffoldError(
            f"{docs_dir} is not a folder: the site's pages go there (docs_dir of its "
            "configuration, or --docs-dir)"
        )
    nav_entry = f"{TOPICS_FOLDER}/{topic}.md"
    plan = TopicPlan(topic, title, package_dir / f"{topic}.py", docs_dir / nav_entry, nav_entry)
    for path in (plan.module_path, plan.page_path):
        if path.exists() or path.is_symlink():
            raise ScaffoldError(
                f"{path} already exists; refkit new never overwrites a file: choose another "
                "name, or edit that file."
            )
    return plan


def _string_literal(text: str) -> str:
    """A double-quoted Python string literal of ``text`` (no control characters in it).

    Examples:
        >>> print(_string_literal('Say "hi" it\\'s \\\\ fine'))
        "Say \\"hi\\" it's \\\\ fine"
    """
    return json.dumps(text, ensure_ascii=False)


def module_source(topic: str, title: str) -> str:
    """The new topic module: docstring, ``TITLE``, ``REFERENCES`` and one demonstration.

    It passes ``python -m doctest`` as it is, and imports absolutely, as every topic module
    must (the doctest runner imports the file as a top-level module).

    Examples:
        >>> source = module_source("shapes", "Tensor shapes")
        >>> namespace = {}
        >>> exec(compile(source, "shapes.py", "exec"), namespace)
        >>> namespace["TITLE"], namespace["REFERENCES"]
        ('Tensor shapes', ())
        >>> namespace["demo_first"]()
        Hello from shapes: 1 + 1 = 2
    """
    in_docstring = title.replace("\\", "\\\\").replace('"', '\\"')
    return f'''"""{in_docstring}: what a reader learns here, in one sentence.

Explain the topic in your own words: the claims the page makes and, for each one, the
``{SNIPPET_PREFIX}*`` function below that shows it. The page embeds each demonstration's source and
its live output, so what it says is what the installed libraries really do.
"""

from __future__ import annotations

from refkit.engine.references import Reference

__all__ = ["REFERENCES", "TITLE", "{FIRST_SNIPPET}"]

TITLE: str = {_string_literal(title)}

# Where the topic is explained elsewhere; the page lists them at its end. Each url must be an
# absolute http(s) address.
REFERENCES: tuple[Reference, ...] = (
    # Reference(
    #     url="https://example.org/where-this-is-explained",
    #     title="Where this is explained",
    #     good_for="What a reader finds there that this page does not say.",
    # ),
)


def {FIRST_SNIPPET}() -> None:
    """Print what the page shows under this demonstration.

    Replace it with one claim of the topic, shown by running code: no arguments, the same output
    on every run (seed, round, move tensors to the CPU before printing), nothing downloaded. Add
    one ``{SNIPPET_PREFIX}*`` function per claim, each with its output as a doctest.

    Examples:
        >>> {FIRST_SNIPPET}()
        Hello from {topic}: 1 + 1 = 2
    """
    print("Hello from {topic}: 1 + 1 =", 1 + 1)
'''


def page_source(topic: str, title: str) -> str:
    """The new topic page: front matter naming the topic, a heading, a paragraph, a directive.

    Examples:
        >>> print(page_source("shapes", "Tensor shapes"), end="")
        ---
        topic: shapes
        ---
        # Tensor shapes
        <BLANKLINE>
        Say here, in your own words, what this page explains and why it matters to a reader, then
        show each claim with the demonstration that proves it. Replace this paragraph.
        <BLANKLINE>
        !refkit shapes.demo_first title="A first demonstration"
    """
    return (
        f"---\ntopic: {topic}\n---\n# {title}\n\n"
        "Say here, in your own words, what this page explains and why it matters to a reader, "
        "then\nshow each claim with the demonstration that proves it. Replace this paragraph.\n\n"
        f'!refkit {topic}.{FIRST_SNIPPET} title="A first demonstration"\n'
    )


def create_topic(plan: TopicPlan) -> tuple[Path, Path]:
    """Create the topic's module and page; never overwrite a file.

    Each file is created exclusively, so a file that appeared since :func:`plan_topic` is left
    as it is; when the second file cannot be created, the first is removed again.

    Returns:
        The module and the page created.

    Raises:
        ScaffoldError: A file already exists (the message names it); nothing is left behind.
        OSError: A file cannot be written; nothing is left behind.
    """
    created: list[Path] = []
    try:
        for path, text in (
            (plan.module_path, module_source(plan.topic, plan.title)),
            (plan.page_path, page_source(plan.topic, plan.title)),
        ):
            path.parent.mkdir(parents=True, exist_ok=True)
            try:
                with path.open("x", encoding="utf-8", newline="\n") as handle:
                    created.append(path)
                    handle.write(text)
            except FileExistsError:
                raise ScaffoldError(
                    f"{path} already exists; refkit new never overwrites a file"
                ) from None
    except BaseException:
        for path in created:
            with contextlib.suppress(OSError):
                path.unlink()
        raise
    return plan.module_path, plan.page_path


# -- the navigation ------------------------------------------------------------------------------


def _mapping_get(node: yaml.Node, key: str) -> yaml.Node | None:
    if isinstance(node, yaml.MappingNode):
        for key_node, value in node.value:
            if isinstance(key_node, yaml.ScalarNode) and key_node.value == key:
                return value
    return None


def _section(nav: yaml.SequenceNode, name: str) -> yaml.Node | None:
    """The value of the ``- <name>: ...`` item of a nav list (compared case-insensitively)."""
    for item in nav.value:
        if isinstance(item, yaml.MappingNode) and len(item.value) == 1:
            [(key_node, value)] = item.value
            if (
                isinstance(key_node, yaml.ScalarNode)
                and key_node.value.casefold() == name.casefold()
            ):
                return value
    return None


def _scalars(node: yaml.Node) -> list[yaml.ScalarNode]:
    if isinstance(node, yaml.ScalarNode):
        return [node]
    if isinstance(node, yaml.SequenceNode):
        return [s for child in node.value for s in _scalars(child)]
    if isinstance(node, yaml.MappingNode):
        return [s for pair in node.value for child in pair for s in _scalars(child)]
    return []


def _shape(node: yaml.Node, hole: yaml.Node | None = None) -> object:
    """A comparable picture of a YAML tree: tags and values, no positions; ``hole`` left out."""
    if node is hole:
        return "<hole>"
    if isinstance(node, yaml.ScalarNode):
        return (node.tag, node.value)
    if isinstance(node, yaml.SequenceNode):
        return (node.tag, [_shape(child, hole) for child in node.value])
    if isinstance(node, yaml.MappingNode):
        return (node.tag, [(_shape(k, hole), _shape(v, hole)) for k, v in node.value])
    return None


def _items(sequence: yaml.SequenceNode) -> list[object]:
    return [_shape(child) for child in sequence.value]


def _topics_list(root: yaml.Node | None, section: str) -> yaml.SequenceNode | None:
    nav = _mapping_get(root, "nav") if root is not None else None
    found = _section(nav, section) if isinstance(nav, yaml.SequenceNode) else None
    return found if isinstance(found, yaml.SequenceNode) else None


def _nav_line(entry: str, title: str, topics: yaml.SequenceNode) -> str:
    """The new item, in the form of the last one: a bare path or ``Title: path``."""
    if not isinstance(topics.value[-1], yaml.MappingNode):
        return entry
    shown = title if _PLAIN_YAML_TITLE.fullmatch(title) else json.dumps(title, ensure_ascii=False)
    return f"{shown}: {entry}"


def _with_item_appended(
    text: str, root: yaml.Node, topics: yaml.SequenceNode, entry: str, title: str
) -> str | None:
    """``text`` with ``entry`` inserted as the last item of the block list ``topics``.

    ``None`` unless the result reads back as the same document with one more item there, which
    names ``entry``.
    """
    item = f"- {_nav_line(entry, title, topics)}"
    end = max((s.end_mark for s in _scalars(topics.value[-1])), key=lambda mark: mark.index)
    after = end.line + 1 if end.column > 0 else end.line  # a block scalar ends on the next line
    lines = text.splitlines(keepends=True)
    newline = "\r\n" if "\r\n" in text else "\n"
    if 0 < after <= len(lines) and not lines[after - 1].endswith(("\n", "\r")):
        lines[after - 1] += newline
    lines.insert(after, f"{' ' * topics.start_mark.column}{item}{newline}")
    new_text = "".join(lines)
    try:
        new_root = yaml.compose(new_text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return None
    new_topics = _topics_list(new_root, NAV_SECTION)
    if (
        new_topics is None
        or _shape(new_root, new_topics) != _shape(root, topics)
        or _items(new_topics) != [*_items(topics), _shape(new_topics.value[-1])]
        or entry not in [s.value for s in _scalars(new_topics.value[-1])]
    ):
        return None
    return new_text


def add_to_nav(text: str, entry: str, title: str, *, name: str = "mkdocs.yml") -> NavEdit:
    """Add ``entry`` as the last item of the ``Topics`` section of a ``mkdocs.yml``'s ``nav``.

    One line is inserted after the section's last item, indented like it and in its form (a
    bare path, or ``Title: path``); nothing else in the text changes. The result is read back:
    unless it is the same document with one more item in that section, nothing is edited.

    Args:
        text: The file's text.
        entry: The page, relative to the docs folder (``topics/<topic>.md``).
        title: The page's title, for a section whose items are written ``Title: path``.
        name: The file's name, for the note.

    Returns:
        The new text (``None`` when nothing is to change) and a note saying what was done, or
        what to add by hand.

    Examples:
        >>> site = "nav:\\n  - Home: index.md\\n  - Topics:\\n      - topics/a.md  # first\\n  - About: about.md\\n"
        >>> edit = add_to_nav(site, "topics/b.md", "B")
        >>> print(edit.text, end="")
        nav:
          - Home: index.md
          - Topics:
              - topics/a.md  # first
              - topics/b.md
          - About: about.md
        >>> edit.note
        'added topics/b.md to the Topics section of nav in mkdocs.yml'
        >>> add_to_nav("site_name: x\\n", "topics/b.md", "B").note
        'mkdocs.yml has no nav: MkDocs lists every page itself, so nothing was added'
    """
    by_hand = f"add '- {entry}' to nav in {name} where the page belongs"
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        return NavEdit(None, f"{name} could not be read as YAML ({exc}); {by_hand}")
    nav = _mapping_get(root, "nav") if root is not None else None
    if nav is None or (isinstance(nav, yaml.ScalarNode) and nav.tag.endswith(":null")):
        return NavEdit(
            None, f"{name} has no nav: MkDocs lists every page itself, so nothing was added"
        )
    if any(s.value == entry for s in _scalars(nav)):
        return NavEdit(None, f"{entry} is already in the nav of {name}")
    topics = _topics_list(root, NAV_SECTION)
    if topics is None or topics.flow_style or not topics.value:
        return NavEdit(
            None,
            f"the nav of {name} has no {NAV_SECTION} section written as a block list, so it was "
            f"not edited; {by_hand}",
        )
    new_text = _with_item_appended(text, root, topics, entry, title)
    if new_text is None:
        return NavEdit(None, f"{name} is laid out in a way refkit new does not edit; {by_hand}")
    return NavEdit(new_text, f"added {entry} to the {NAV_SECTION} section of nav in {name}")


def nav_note_for_toml(text: str, entry: str, *, name: str = "zensical.toml") -> str:
    """What to add to a ``zensical.toml``'s ``nav``, which ``refkit new`` does not edit.

    Examples:
        >>> nav_note_for_toml('[project]\\nsite_name = "x"\\n', "topics/b.md")
        'zensical.toml has no nav: Zensical lists every page itself, so nothing needs adding'
        >>> print(nav_note_for_toml('[project]\\nnav = [{"Topics" = ["topics/a.md"]}]\\n', "topics/b.md"))
        zensical.toml was not edited: add "topics/b.md" to the list of the "Topics" entry of nav under [project], e.g. nav = [..., {"Topics" = [..., "topics/b.md"]}]
    """
    try:
        import tomllib
    except ImportError:  # Python 3.10
        import tomli as tomllib  # type: ignore[no-redef]
    try:
        nav = tomllib.loads(text).get("project", {}).get("nav")
    except (tomllib.TOMLDecodeError, AttributeError):
        nav = "unreadable"
    if nav is None:
        return f"{name} has no nav: Zensical lists every page itself, so nothing needs adding"
    return (
        f'{name} was not edited: add "{entry}" to the list of the "{NAV_SECTION}" entry of nav '
        f'under [project], e.g. nav = [..., {{"{NAV_SECTION}" = [..., "{entry}"]}}]'
    )
