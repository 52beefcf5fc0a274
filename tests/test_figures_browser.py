"""The figures and views of the topic pages, in a real headless Chromium, light and dark.

Each picture must be drawn (a box of non-zero size, and for a figure an SVG whose own box is
non-zero), and its text must stand out from the page in both of Material's palettes: a
figure's ink is ``currentColor``, so it must follow the palette. With ``$REFKIT_SCREENSHOTS``
set to a folder, a screenshot of every picture in both palettes is saved there for a person to
look at (``build/screenshots`` is the usual one; taking them is most of this test's time).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import REPO
from test_search_browser import _serve

from refkit.engine.discovery import load_catalog

pytestmark = [pytest.mark.slow, pytest.mark.browser]

CATALOG = load_catalog(REPO / "refkit")
SCHEMES = ("default", "slate")
# The issue asks for pictures on at least six topic pages.
MINIMUM_PAGES_WITH_PICTURES = 6

MEASURE = """
const scheme = arguments[0];
document.body.setAttribute('data-md-color-scheme', scheme);
const background = getComputedStyle(document.body).backgroundColor;
return Array.from(document.querySelectorAll('figure.refkit-display')).map((figure) => {
  const picture = figure.querySelector('.refkit-picture > *');
  const box = (element) => {
    if (!element) return [0, 0];
    const r = element.getBoundingClientRect();
    return [r.width, r.height];
  };
  const text = figure.querySelector('.refkit-picture svg text, .refkit-picture td, .refkit-picture .refkit-tok-text');
  return {
    caption: (figure.querySelector('figcaption') || {}).textContent || '',
    kind: picture ? picture.tagName.toLowerCase() : '',
    figure: box(figure),
    picture: box(picture),
    ink: text ? getComputedStyle(text).color : '',
    fill: text && text.tagName.toLowerCase() === 'text' ? getComputedStyle(text).fill : '',
    background: background,
  };
});
"""


def _rgb(color: str) -> tuple[float, float, float]:
    values = [float(v) for v in re.findall(r"[\d.]+", color)[:3]]
    assert len(values) == 3, color
    return values[0], values[1], values[2]


def _luminance(color: str) -> float:
    def channel(value: float) -> float:
        value /= 255
        return value / 12.92 if value <= 0.03928 else ((value + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(v) for v in _rgb(color))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: str, b: str) -> float:
    """WCAG contrast ratio of two CSS colours.

    Examples:
        >>> round(contrast("rgb(0, 0, 0)", "rgb(255, 255, 255)"), 1)
        21.0
    """
    light, dark = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


@pytest.fixture(scope="module")
def site_url(built_site: Path) -> Iterator[str]:
    yield from _serve(built_site)


@pytest.fixture(scope="module")
def screenshots() -> Path | None:
    if not os.environ.get("REFKIT_SCREENSHOTS"):
        return None
    folder = Path(os.environ["REFKIT_SCREENSHOTS"])
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def test_every_picture_renders_and_reads_in_light_and_dark(browser, site_url, screenshots):
    from selenium.webdriver.common.by import By

    browser.set_window_size(1280, 900)
    pages_with_pictures = 0
    saved = 0
    for topic in CATALOG.topics:
        browser.get(f"{site_url}topics/{topic}/")
        found = {scheme: browser.execute_script(MEASURE, scheme) for scheme in SCHEMES}
        if not found["default"]:
            continue
        pages_with_pictures += 1
        assert len(found["default"]) == len(found["slate"])
        for scheme, pictures in found.items():
            inks = set()
            for number, picture in enumerate(pictures):
                where = f"{topic} picture {number} ({picture['caption']!r}, {scheme})"
                assert picture["caption"].strip(), f"{where}: no caption"
                assert min(picture["figure"]) > 0 and min(picture["picture"]) > 0, where
                assert picture["ink"], f"{where}: no text in the picture"
                ink = picture["fill"] if picture["kind"] == "svg" else picture["ink"]
                assert contrast(ink, picture["background"]) >= 4.5, (
                    where,
                    ink,
                    picture["background"],
                )
                inks.add(ink)
            if screenshots is None:
                continue
            browser.execute_script(
                "document.body.setAttribute('data-md-color-scheme', arguments[0])", scheme
            )
            for number, element in enumerate(
                browser.find_elements(By.CSS_SELECTOR, "figure.refkit-display")
            ):
                browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", element)
                element.screenshot(str(screenshots / f"{topic}-{number}-{scheme}.png"))
                saved += 1
        light_inks = {p["fill"] or p["ink"] for p in found["default"] if p["kind"] == "svg"}
        dark_inks = {p["fill"] or p["ink"] for p in found["slate"] if p["kind"] == "svg"}
        assert not light_inks & dark_inks, f"{topic}: a figure's ink does not follow the palette"
    assert pages_with_pictures >= MINIMUM_PAGES_WITH_PICTURES
    assert screenshots is None or saved >= 2 * MINIMUM_PAGES_WITH_PICTURES
