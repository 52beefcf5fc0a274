"""The API pages document every module of the engine."""

from conftest import REPO


def test_every_engine_module_has_its_block_on_an_api_page():
    pages = "".join(p.read_text(encoding="utf-8") for p in (REPO / "docs" / "api").glob("*.md"))
    modules = sorted(
        path.stem
        for path in (REPO / "refkit" / "engine").glob("*.py")
        if not path.stem.startswith("_")
    )
    missing = [name for name in modules if f"::: refkit.engine.{name}\n" not in pages]
    assert modules and not missing, f"docs/api/ lacks ::: blocks for {missing}"
