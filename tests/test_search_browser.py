"""The search box of the built site, in a real headless Chromium, served on localhost."""

from __future__ import annotations

import functools
import http.server
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from refkit.engine.discovery import load_catalog

pytestmark = [pytest.mark.slow, pytest.mark.browser]

NOTES = Path(__file__).resolve().parent / "fixtures" / "seed-notes.md"

# The notes' own search queries (their "gs:" lines) must lead to the topic page they found.
NOTES_QUERIES = {
    "huggingface autotokenizer different from tokenizer": "auto_tokenizer_classes",
    "huggingface tokenizer offsets": "offset_alignment",
    "pytorch cross entropy loss vs binarycrossentropy loss": "loss_selection",
    "multi label classification binarycross entorpy": "loss_selection",
    "crossentropy loss for multi label classification": "loss_selection",
    "loss function for multi label classification pytorch": "loss_selection",
}
# Searches a reader would type: for the topics whose notes give no query, and for identifiers,
# which only the code of a snippet (or an API page repeating a docstring) may hold.
READER_QUERIES = {
    "train tokenizer wordpiece": "train_tokenizer",
    "build a tokenizer from scratch": "train_tokenizer",
    "keras.engine TFRobertaModel": "keras_engine_error",
    "keras.engine": "keras_engine_error",
    "Dropout1d": "conv1d_head",
    "SpatialDropout1D": "conv1d_head",
    "kernel_size 1": "conv1d_head",
    "attention mask padding": "model_inputs",
    "token_type_ids": "model_inputs",
    "BertTokenizerFast": "auto_tokenizer_classes",
    "use_fast": "auto_tokenizer_classes",
    "word_ids -100": "offset_alignment",
    "return_offsets_mapping": "offset_alignment",
    "is_split_into_words": "offset_alignment",
    "BCEWithLogitsLoss": "loss_selection",
}
TOP_RESULTS = 3


def test_notes_queries_listed_here_are_exactly_the_notes_gs_lines():
    lines = re.findall(
        r"^\s*-?\s*gs:\s*(.+)$", NOTES.read_text(encoding="utf-8"), flags=re.MULTILINE
    )
    assert {line.strip().strip("()") for line in lines} == set(NOTES_QUERIES)


def _serve(folder: Path) -> Iterator[str]:
    handler = functools.partial(_QuietHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def site_url(built_site: Path) -> Iterator[str]:
    yield from _serve(built_site)


@pytest.fixture(scope="module")
def zensical_url(zensical_site: Path) -> Iterator[str]:
    yield from _serve(zensical_site)


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


RESULT_LINKS = "li.md-search-result__item > a.md-search-result__link"


def search(browser, site_url: str, query: str) -> list[str]:
    """Type ``query`` into the search box as a reader would; return the result pages' URLs.

    A reader who searches again clears the box and types anew: the page (and its search index)
    is loaded once per site, not once per query.
    """
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(browser, 30, poll_frequency=0.05)
    boxes = browser.find_elements(By.CSS_SELECTOR, "input.md-search__input")
    if not browser.current_url.startswith(site_url) or not boxes or not boxes[0].is_displayed():
        browser.set_window_size(800, 600)  # Material's search: the icon of narrow layouts
        browser.get(site_url)
        wait.until(
            expected_conditions.element_to_be_clickable(
                (By.CSS_SELECTOR, "label.md-search__icon, label[for='__search']")
            )
        )
        browser.find_element(By.CSS_SELECTOR, "label[for='__search']").click()
    box = wait.until(
        expected_conditions.element_to_be_clickable((By.CSS_SELECTOR, "input.md-search__input"))
    )
    box.clear()
    # The results of the last query go once the box is empty; only then type the next one.
    wait.until(lambda driver: not driver.find_elements(By.CSS_SELECTOR, RESULT_LINKS))
    # All but the last character at once, then a real key press: the search runs on the whole
    # query once, not once per character typed (which made each query take seconds).
    browser.execute_script("arguments[0].value = arguments[1];", box, query[:-1])
    box.send_keys(query[-1])
    return _settled(lambda: browser.execute_script(HREFS, RESULT_LINKS))


# The addresses of the links a selector finds in the page (or under a shadow root), read in one
# round trip to the browser: a WebDriver call per link made a read of 20 results take 0.1 s.
HREFS = "return [...(arguments[1] || document).querySelectorAll(arguments[0])].map(a => a.href);"


def _settled(read, timeout: float = 30.0, stable: int = 3) -> list[str]:
    """The result links once they stop changing: results render while the reader types.

    Settled means ``stable`` reads in a row, 0.15 s apart, gave the same non-empty links.
    """
    import time

    deadline = time.monotonic() + timeout
    previous: list[str] = []
    same = 0
    while time.monotonic() < deadline:
        try:
            current = list(read())
        except Exception:  # the results replaced while they were read: read again
            current = []
        same = same + 1 if current and current == previous else 0
        if same >= stable - 1:
            return current
        previous = current
        time.sleep(0.15)
    raise AssertionError(f"search results never settled (last: {previous})")


def zensical_search(browser, site_url: str, query: str) -> list[str]:
    """The same as :func:`search`, in Zensical's search dialog (which lives in a shadow root)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    browser.set_window_size(1280, 900)  # Zensical's search button shows on desktop widths
    browser.get(site_url)
    wait = WebDriverWait(browser, 30, poll_frequency=0.5)
    button = wait.until(
        expected_conditions.element_to_be_clickable((By.CSS_SELECTOR, "button.md-search__button"))
    )

    def dialog(driver):
        # A click before the page's script is ready does nothing: click again until it opens.
        button.click()
        return driver.execute_script(
            "const host = [...document.querySelectorAll('*')]"
            ".find(e => e.shadowRoot && e.shadowRoot.querySelector('input'));"
            "return host ? host.shadowRoot : null;"
        )

    root = wait.until(dialog)
    box = root.find_element(By.CSS_SELECTOR, "input")
    # As in search: the query at once, then one real key press that runs it. A query run while
    # Zensical still builds its index right after the page loads can settle on what the part
    # loaded so far gives, so it runs once more once the first answer has settled.
    for _ in range(2):
        browser.execute_script("arguments[0].value = arguments[1];", box, query[:-1])
        box.send_keys(query[-1])
        found = _settled(lambda: browser.execute_script(HREFS, "a[href]", root))
    return found


@pytest.mark.parametrize(("query", "module"), sorted({**NOTES_QUERIES, **READER_QUERIES}.items()))
def test_search_box_ranks_the_explaining_topic_page_first(browser, site_url, query, module):
    results = search(browser, site_url, query)
    top = [urlsplit(url).path for url in results[:TOP_RESULTS]]
    assert top and top[0] == f"/topics/{module}/", f"{query!r} gave {top}"


def test_search_finds_live_output(browser, site_url):
    # The class name DistilBertTokenizer appears on the site only in a live output (the model
    # inputs page prints which tokenizer classes return token_type_ids), not in any prose or
    # source (DistilBertTokenizerFast, another word, does).
    word = re.compile(r"\bDistilBertTokenizer\b")
    repo = Path(__file__).resolve().parent.parent
    assert not any(word.search(page.read_text()) for page in (repo / "docs").rglob("*.md"))
    catalog = load_catalog(repo / "refkit")
    assert not any(word.search(s.display_source) for s in catalog.snippets.values())
    assert not any(
        word.search(f"{r.title} {r.good_for}")
        for t in catalog.topics.values()
        for r in t.references
    )
    results = search(browser, site_url, "DistilBertTokenizer")
    assert "/topics/model_inputs/" in [urlsplit(url).path for url in results[:TOP_RESULTS]]


# Last: the Zensical build starts when the MkDocs one is done and runs while the tests above do.
def test_zensical_search_box_finds_live_output(browser, zensical_url):
    # As in test_search_finds_live_output: the word is in no prose or shown source of a page.
    results = zensical_search(browser, zensical_url, "DistilBertTokenizer")
    assert "/topics/model_inputs/" in [urlsplit(url).path for url in results[:TOP_RESULTS]]
