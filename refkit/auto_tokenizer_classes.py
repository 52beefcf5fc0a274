"""``AutoTokenizer.from_pretrained`` versus a specific class's ``from_pretrained``.

``AutoTokenizer`` is not a tokenizer: it is a factory whose ``from_pretrained`` reads the saved
files, picks a tokenizer class and returns an instance of *that* class. Calling a specific class
(``BertTokenizer.from_pretrained(folder)``) skips the choice and always builds that class.

How the choice is made in transformers 5 (checked in ``models/auto/tokenization_auto.py`` of the
installed 5.24): for a plain folder without remote code, the ``tokenizer_class`` field of
``tokenizer_config.json`` decides. A trailing ``Fast`` is stripped (``BertTokenizerFast`` loads
``BertTokenizer``), ``PreTrainedTokenizerFast`` and ``TokenizersBackend`` give the generic
``TokenizersBackend``, and a folder without the field also gets ``TokenizersBackend``, unless a
``config.json`` next to it names a model type, whose tokenizer class is then used
(``demo_tokenizer_class_decides``). The ``use_fast`` argument is accepted and thrown away (the
source says "V5: Always use fast tokenizers, ignore use_fast parameter", lines 750-751).

What changed across major versions:

* **v3** (when huggingface/transformers issue 5587 was asked, July 2020): ``use_fast`` defaulted
  to False, so for a BERT checkpoint ``AutoTokenizer`` returned the same pure-Python
  ``BertTokenizer`` that ``BertTokenizer.from_pretrained`` returned; that is why the maintainer
  answered that the two calls are the same and Auto is merely more flexible.
* **v4** (from 4.0): ``use_fast=True`` became the default, so ``AutoTokenizer`` returned
  ``BertTokenizerFast`` (Rust, from the tokenizers library) while ``BertTokenizer`` stayed the
  slow Python class. The two could differ: only the fast one had ``word_ids()`` and offset
  mappings, and edge cases (emoji, special tokens inside the text) sometimes tokenized
  differently (huggingface/transformers issues 14844 and 5256). The defaults are in the
  source: ``kwargs.pop("use_fast", False)`` in every 3.x release, ``kwargs.pop("use_fast",
  True)`` from v4.0.0 (pull request 8073). The v4 side runs live: ``ENVIRONMENTS`` below
  runs three demonstrations in transformers 4.57.6 as well. v3 cannot run here (transformers
  3.5.1 needs tokenizers 0.9.3, which has no wheel for Python 3.11).
* **v5** (installed): slow and fast are merged. ``BertTokenizer`` *is* the Rust-backed class
  (a subclass of ``TokenizersBackend``, ``is_fast`` is True); ``BertTokenizerFast`` and
  ``PreTrainedTokenizerFast`` are mere aliases kept for old code. For a folder saved from a
  BERT tokenizer, ``AutoTokenizer`` and ``BertTokenizer`` now return the same class and the
  same ids. Each model type has one tokenizer class: Rust-backed for most (266 of the model
  types in the installed auto mapping), pure Python (a ``PythonBackend`` subclass, the new
  name of ``PreTrainedTokenizer``, ``is_fast`` False) for about thirty that never had a Rust
  version, such as ``ByT5Tokenizer`` and ``XLMTokenizer``; for those, ``AutoTokenizer`` still
  returns a slow tokenizer (``demo_slow_tokenizer_still_exists`` loads a ByT5 one). BERT's
  Python implementation survives as ``BertTokenizerLegacy``, which ``AutoTokenizer`` returns
  for a BERT folder only when ``tokenizer_config.json`` names it. It gives the same ids as
  ``BertTokenizer``, but a pair comes back without ``token_type_ids`` unless
  ``return_token_type_ids=True`` is passed (its ``model_input_names`` lack them), and it has
  no ``word_ids()`` and no offsets.

The difference that remains in v5 is the *class*, not speed: a model-specific class such as
``BertTokenizer`` keeps only the vocabulary of ``tokenizer.json`` and rebuilds its own
normalizer, pre-tokenizer, decoder and post-processor (``BertNormalizer``, ``BertPreTokenizer``,
``decoders.WordPiece``, ``[CLS] A [SEP]``; ``models/bert/tokenization_bert.py`` lines 105-133),
whereas ``TokenizersBackend`` loads ``tokenizer.json`` exactly as saved. For a tokenizer trained
with a custom pipeline the two can give different ids; here ``...`` becomes three ``.`` tokens
with ``BertTokenizer`` and one ``[UNK]`` with the pipeline as trained, and a template without
``[CLS]`` gets one anyway.

What the original notes got wrong (or left out):

* "difference between autotokenizer.from_pretrained and specifictokenizer.from_pretrained",
  answered by issue 5587 ("they are the same, Auto is more flexible"): right for v3 and right
  again in v5 (``demo_auto_vs_specific_class``), but wrong for all of v4, where Auto returned
  the fast class and the specific class the slow one.
* The premise that there is a slow and a fast variant to choose between is outdated:
  ``BertTokenizerFast is BertTokenizer`` (``demo_fast_names_are_aliases``) and ``use_fast=False``
  changes nothing (``demo_use_fast_false``).
* Left out: what Auto returns is decided by ``tokenizer_class`` in ``tokenizer_config.json``
  (``demo_tokenizer_class_decides``), a model-specific class rebuilds most of the pipeline
  (``demo_class_rebuilds_pipeline``), and slow tokenizers still exist: for the models that
  only have a Python one, and for BERT under another name (``demo_slow_tokenizer_still_exists``).
"""

from __future__ import annotations

import itertools
import json
import logging
import tempfile
from pathlib import Path

from refkit.engine.references import Reference
from refkit.train_tokenizer import read_corpus, saved_demo_tokenizer, train_demo_tokenizer

TITLE: str = "AutoTokenizer vs. a specific tokenizer class"

REFERENCES: tuple[Reference, ...] = (
    Reference(
        url="https://github.com/huggingface/transformers/issues/5587",
        title="Difference between AutoTokenizer.from_pretrained and BertTokenizer.from_pretrained",
        good_for=(
            "The maintainers' 2020 (v3) answer: Auto picks the class from the checkpoint, so "
            "for a BERT checkpoint both calls gave the same tokenizer."
        ),
        search_query="huggingface autotokenizer different from tokenizer",
    ),
)

__all__ = [
    "BERT_SPECIAL_TOKENS",
    "ENVIRONMENTS",
    "REFERENCES",
    "SAMPLE_SENTENCE",
    "TITLE",
    "demo_auto_vs_specific_class",
    "demo_class_rebuilds_pipeline",
    "demo_fast_names_are_aliases",
    "demo_slow_tokenizer_still_exists",
    "demo_tokenizer_class_decides",
    "demo_use_fast_false",
    "set_tokenizer_class",
    "write_vocab_txt",
]

ENVIRONMENTS = {
    # Each also runs under transformers 4.57, the last release with separate slow and fast classes.
    "demo_auto_vs_specific_class": ("default", "transformers-4.57"),
    "demo_use_fast_false": ("default", "transformers-4.57"),
    "demo_fast_names_are_aliases": ("default", "transformers-4.57"),
}
"""Where snippets run besides the default environment (see the site's Environment page)."""

# A corpus sentence: every loader below agrees on it, so differences come from the class only.
SAMPLE_SENTENCE = "Padding makes every sentence in a batch as long as the longest one."

BERT_SPECIAL_TOKENS = {
    "unk_token": "[UNK]",
    "pad_token": "[PAD]",
    "cls_token": "[CLS]",
    "sep_token": "[SEP]",
    "mask_token": "[MASK]",
}
"""The special tokens of the demo tokenizer, as the transformers wrappers name them."""


def set_tokenizer_class(folder: Path, class_name: str | None) -> None:
    """Rewrite the ``tokenizer_class`` field of ``folder/tokenizer_config.json``.

    Args:
        folder: A folder written by ``save_pretrained``.
        class_name: The new value, or ``None`` to remove the field.

    Examples:
        >>> with saved_demo_tokenizer() as folder:
        ...     set_tokenizer_class(folder, None)
        ...     "tokenizer_class" in json.loads((folder / "tokenizer_config.json").read_text())
        False
    """
    path = folder / "tokenizer_config.json"
    config = json.loads(path.read_text(encoding="utf-8"))
    config.pop("tokenizer_class", None)
    if class_name is not None:
        config["tokenizer_class"] = class_name
    path.write_text(json.dumps(config, indent=2), encoding="utf-8")


def write_vocab_txt(folder: Path) -> Path:
    """Write ``vocab.txt`` (one token per line, in id order) next to the saved tokenizer.

    The pure-Python ``BertTokenizerLegacy`` reads only this file; ``save_pretrained`` of the
    Rust-backed ``BertTokenizer`` does not write it.

    Args:
        folder: A folder holding the saved demo tokenizer.

    Returns:
        The path of the written file.
    """
    from transformers import BertTokenizer

    vocab = BertTokenizer.from_pretrained(folder).get_vocab()
    path = folder / "vocab.txt"
    path.write_text("".join(f"{token}\n" for token in sorted(vocab, key=vocab.get)), "utf-8")
    return path


class _RecordingHandler(logging.Handler):
    """A logging handler that keeps every record it receives, to count them afterwards."""

    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def _fast_only_features(tok: object) -> tuple[str, str]:
    """Whether ``word_ids()`` and ``return_offsets_mapping=True`` work: ``yes`` or the error's name.

    Both come from the Rust tokenizers library, so in 4.x only the fast classes had them.
    """
    encoding = tok(SAMPLE_SENTENCE)
    try:
        encoding.word_ids()
        word_ids = "yes"
    except ValueError as error:
        word_ids = type(error).__name__
    try:
        offsets = "yes" if "offset_mapping" in tok(SAMPLE_SENTENCE, return_offsets_mapping=True) else "no"
    except NotImplementedError as error:
        offsets = type(error).__name__
    return word_ids, offsets


def demo_auto_vs_specific_class() -> None:
    """Load one saved BERT tokenizer both ways and compare class, speed, ids and features.

    The folder's ``tokenizer_config.json`` says ``BertTokenizer``. In transformers 5
    ``AutoTokenizer`` builds exactly what ``BertTokenizer.from_pretrained`` builds. In 4.x (run
    in the ``transformers-4.57`` environment) Auto returned ``BertTokenizerFast`` and the
    specific class the slow Python ``BertTokenizer``: the same ids on this sentence, but no
    ``word_ids()`` and no offsets.

    Examples:
        >>> demo_auto_vs_specific_class()
        from_pretrained of  class              is_fast  word_ids()  offsets
        AutoTokenizer       BertTokenizer      True     yes         yes
        BertTokenizer       BertTokenizer      True     yes         yes
        same ids: True
    """
    from transformers import AutoTokenizer, BertTokenizer

    with saved_demo_tokenizer() as folder:
        auto = AutoTokenizer.from_pretrained(folder)
        specific = BertTokenizer.from_pretrained(folder)
    print(f"{'from_pretrained of':<19} {'class':<18} is_fast  word_ids()  offsets")
    for loader, tok in (("AutoTokenizer", auto), ("BertTokenizer", specific)):
        word_ids, offsets = _fast_only_features(tok)
        name = type(tok).__name__
        print(f"{loader:<19} {name:<18} {tok.is_fast!s:<8} {word_ids:<11} {offsets}")
    same = auto(SAMPLE_SENTENCE)["input_ids"] == specific(SAMPLE_SENTENCE)["input_ids"]
    print(f"same ids: {same}")


def demo_use_fast_false() -> None:
    """Ask ``AutoTokenizer`` for a slow tokenizer with ``use_fast=False``.

    transformers 4.x honoured it and returned the Python ``BertTokenizer``; transformers 5
    discards the argument, so code written for v4 that passed ``use_fast=False`` to get the
    Python tokenizer now silently gets the Rust-backed one.

    Examples:
        >>> demo_use_fast_false()
        use_fast=True  -> BertTokenizer  is_fast=True
        use_fast=False -> BertTokenizer  is_fast=True
    """
    from transformers import AutoTokenizer

    with saved_demo_tokenizer() as folder:
        for use_fast in (True, False):
            tok = AutoTokenizer.from_pretrained(folder, use_fast=use_fast)
            print(f"use_fast={use_fast!s:<5} -> {type(tok).__name__}  is_fast={tok.is_fast}")


def demo_fast_names_are_aliases() -> None:
    """The ``...Fast`` names of v4 are aliases in v5; the slow base class has a new name.

    In transformers 5 ``BertTokenizer`` derives from ``TokenizersBackend`` (the Rust wrapper),
    and ``PreTrainedTokenizer``, the base of v4's slow tokenizers, is ``PythonBackend``. In 4.x
    (the ``transformers-4.57`` tab) the fast and slow classes are distinct and the v5 names do
    not exist.

    Examples:
        >>> demo_fast_names_are_aliases()
        BertTokenizerFast is BertTokenizer: True
        PreTrainedTokenizerFast is TokenizersBackend: True
        PreTrainedTokenizer is PythonBackend: True
        BertTokenizer derives from: TokenizersBackend
    """
    import transformers

    pairs = [
        ("BertTokenizerFast", "BertTokenizer"),
        ("PreTrainedTokenizerFast", "TokenizersBackend"),
        ("PreTrainedTokenizer", "PythonBackend"),
    ]
    for old, new in pairs:
        if not hasattr(transformers, new):  # dir() would not tell: the module loads lazily
            print(f"{old} is {new}: there is no {new} in this transformers")
            continue
        print(f"{old} is {new}: {getattr(transformers, old) is getattr(transformers, new)}")
    print(f"BertTokenizer derives from: {transformers.BertTokenizer.__mro__[1].__name__}")


def demo_tokenizer_class_decides() -> None:
    """``tokenizer_class`` in ``tokenizer_config.json`` decides what ``AutoTokenizer`` returns.

    The same ``tokenizer.json`` is loaded each time; only the field changes. A ``Fast`` suffix
    is stripped, the generic names give ``TokenizersBackend``, and so does a folder without the
    field, unless a ``config.json`` names a model type, whose tokenizer class is then used. For
    this BERT folder, naming the pure-Python legacy class is the only way left to get
    ``is_fast=False`` from ``AutoTokenizer`` (models that only have a Python tokenizer get one
    anyway: see ``demo_slow_tokenizer_still_exists``).

    Examples:
        >>> demo_tokenizer_class_decides()
        tokenizer_class                         -> returned class       is_fast
        BertTokenizer                           -> BertTokenizer        True
        BertTokenizerFast                       -> BertTokenizer        True
        PreTrainedTokenizerFast                 -> TokenizersBackend    True
        TokenizersBackend                       -> TokenizersBackend    True
        (field removed)                         -> TokenizersBackend    True
        (field removed), config.json says bert  -> BertTokenizer        True
        BertTokenizerLegacy                     -> BertTokenizerLegacy  False
    """
    from transformers import AutoTokenizer, BertConfig

    # label -> (value of tokenizer_class, whether a BERT config.json lies in the folder)
    cases: dict[str, tuple[str | None, bool]] = {
        name: (name, False)
        for name in ("BertTokenizer", "BertTokenizerFast", "PreTrainedTokenizerFast")
    }
    cases["TokenizersBackend"] = ("TokenizersBackend", False)
    cases["(field removed)"] = (None, False)
    cases["(field removed), config.json says bert"] = (None, True)
    cases["BertTokenizerLegacy"] = ("BertTokenizerLegacy", True)
    print(f"{'tokenizer_class':<39} -> {'returned class':<20} is_fast")
    with saved_demo_tokenizer() as folder:
        write_vocab_txt(folder)  # only the legacy Python class reads vocab.txt
        for label, (name, with_config) in cases.items():
            if with_config:  # a model's config.json next to the tokenizer: model_type "bert"
                BertConfig(vocab_size=400).save_pretrained(folder)
            set_tokenizer_class(folder, name)
            tok = AutoTokenizer.from_pretrained(folder)
            print(f"{label:<39} -> {type(tok).__name__:<20} {tok.is_fast}")


def demo_class_rebuilds_pipeline() -> None:
    """A model-specific class keeps only the vocabulary of ``tokenizer.json`` and rebuilds the rest.

    The demo tokenizer was trained with NFD + Lowercase + StripAccents (a ``Sequence``) and a
    ``Whitespace`` pre-tokenizer, which keeps ``...`` together (unknown as a whole: ``[UNK]``).
    ``BertTokenizer`` (what ``AutoTokenizer`` returns here) swaps in ``BertNormalizer`` and
    ``BertPreTokenizer``, which splits every punctuation mark, while
    ``PreTrainedTokenizerFast`` keeps ``tokenizer.json`` exactly as saved. The post-processor
    is rebuilt too: given a ``tokenizer.json`` whose template frames a sentence as
    ``A [SEP]``, ``BertTokenizer`` still adds ``[CLS]``.

    Examples:
        >>> demo_class_rebuilds_pipeline()
        loader                   normalizer      pre-tokenizer     tokens of 'What... then'
        AutoTokenizer            BertNormalizer  BertPreTokenizer  ['wh', '##at', '.', '.', '.', \
'the', '##n']
        PreTrainedTokenizerFast  Sequence        Whitespace        ['wh', '##at', '[UNK]', 'the', \
'##n']
        same ids: False
        'What... then' through the rebuilt pipeline and through the one saved
        AutoTokenizer
        #  token  special  span      text
        0  [CLS]  yes      [0, 0)    ''
        1  wh              [0, 2)    Wh
        2  ##at            [2, 4)    at
        3  .               [4, 5)    .
        4  .               [5, 6)    .
        5  .               [6, 7)    .
        6  the             [8, 11)   the
        7  ##n             [11, 12)  n
        8  [SEP]  yes      [0, 0)    ''
        <BLANKLINE>
        PreTrainedTokenizerFast
        #  token  special  span      text
        0  [CLS]  yes      [0, 0)    ''
        1  wh              [0, 2)    Wh
        2  ##at            [2, 4)    at
        3  [UNK]           [4, 7)    ...
        4  the             [8, 11)   the
        5  ##n             [11, 12)  n
        6  [SEP]  yes      [0, 0)    ''
        tokenizer.json with the template 'A [SEP]' (no [CLS]), loaded as:
          BertTokenizer            ['[CLS]', 'split', 'words', '[SEP]']
          PreTrainedTokenizerFast  ['split', 'words', '[SEP]']
    """
    from tokenizers import processors
    from transformers import AutoTokenizer, BertTokenizer, PreTrainedTokenizerFast

    from refkit.engine.display import show
    from refkit.engine.views import side_by_side, token_strip

    text = "What... then"
    with saved_demo_tokenizer() as folder:
        auto = AutoTokenizer.from_pretrained(folder)
        as_saved = PreTrainedTokenizerFast.from_pretrained(folder)
    print(f"{'loader':<24} {'normalizer':<15} {'pre-tokenizer':<17} tokens of {text!r}")
    for loader, tok in (("AutoTokenizer", auto), ("PreTrainedTokenizerFast", as_saved)):
        normalizer = type(tok.backend_tokenizer.normalizer).__name__
        pre_tokenizer = type(tok.backend_tokenizer.pre_tokenizer).__name__
        print(f"{loader:<24} {normalizer:<15} {pre_tokenizer:<17} {tok.tokenize(text)}")
    print(f"same ids: {auto(text)['input_ids'] == as_saved(text)['input_ids']}")
    strips = []
    for loader, tok in (("AutoTokenizer", auto), ("PreTrainedTokenizerFast", as_saved)):
        encoding = tok(text, return_offsets_mapping=True, return_special_tokens_mask=True)
        strips.append(
            token_strip(
                encoding.tokens(),
                offsets=encoding["offset_mapping"],
                special=encoding["special_tokens_mask"],
                text=text,
                title=loader,
            )
        )
    show(
        side_by_side(*strips),
        caption=f"{text!r} through the rebuilt pipeline and through the one saved",
    )

    raw = train_demo_tokenizer()
    sep_id = raw.token_to_id("[SEP]")
    raw.post_processor = processors.TemplateProcessing(
        single="$A [SEP]", pair="$A [SEP] $B:1 [SEP]:1", special_tokens=[("[SEP]", sep_id)]
    )
    print("tokenizer.json with the template 'A [SEP]' (no [CLS]), loaded as:")
    with tempfile.TemporaryDirectory(prefix="refkit-tok-") as tmp:
        PreTrainedTokenizerFast(tokenizer_object=raw, **BERT_SPECIAL_TOKENS).save_pretrained(tmp)
        # Named by hand: PreTrainedTokenizerFast.__name__ is "TokenizersBackend" in v5.
        loaders = {"BertTokenizer": BertTokenizer, "PreTrainedTokenizerFast": PreTrainedTokenizerFast}
        for name, cls in loaders.items():
            loaded = cls.from_pretrained(tmp)
            tokens = loaded.convert_ids_to_tokens(loaded("split words")["input_ids"])
            print(f"  {name:<24} {tokens}")


def demo_slow_tokenizer_still_exists() -> None:
    """Slow (pure-Python) tokenizers still exist: for some models, and for BERT under a new name.

    Some models (ByT5, XLM, ...) only ever had a Python tokenizer, and still do: for a saved
    ByT5 tokenizer ``AutoTokenizer`` returns one with ``is_fast=False``. For BERT,
    ``BertTokenizerLegacy`` built from the same vocabulary gives the same ids on every corpus
    line, but it differs from ``BertTokenizer`` in three ways. It does not list
    ``token_type_ids`` in its ``model_input_names``, so a pair comes back without them unless
    you ask (``return_token_type_ids=True``). And as a ``PythonBackend`` it lacks what only
    Rust-backed tokenizers provide (the v4 slow/fast gap in miniature): ``word_ids()`` raises,
    and ``return_offsets_mapping=True``, which raised ``NotImplementedError`` in v4, is now
    ignored without a warning.

    Examples:
        >>> demo_slow_tokenizer_still_exists()
        ByT5Tokenizer, XLMTokenizer are Python-only: True
        AutoTokenizer on a saved ByT5Tokenizer -> ByT5Tokenizer  is_fast=False
        BertTokenizerLegacy  is_fast=False  base=PythonBackend
        same ids as BertTokenizer on all 49 corpus lines: True
        model_input_names: BertTokenizer ['input_ids', 'token_type_ids', 'attention_mask'], \
BertTokenizerLegacy ['input_ids', 'attention_mask']
        keys for a pair: BertTokenizer ['input_ids', 'token_type_ids', 'attention_mask'], \
BertTokenizerLegacy ['input_ids', 'attention_mask']
        with return_token_type_ids=True, same ids and token types on 48 corpus pairs: True
        word_ids(): ValueError: word_ids() is not available when using Python based tokenizers
        offset_mapping returned: False; warnings or log records: 0
    """
    import warnings

    import transformers
    from transformers import AutoTokenizer, BertTokenizer, BertTokenizerLegacy, PythonBackend

    python_only = [getattr(transformers, name) for name in ("ByT5Tokenizer", "XLMTokenizer")]
    are_python = all(issubclass(cls, PythonBackend) for cls in python_only)
    print(f"ByT5Tokenizer, XLMTokenizer are Python-only: {are_python}")
    with tempfile.TemporaryDirectory(prefix="refkit-byt5-") as tmp:
        transformers.ByT5Tokenizer().save_pretrained(tmp)  # ByT5 needs no vocabulary file
        byt5 = AutoTokenizer.from_pretrained(tmp)
    print(f"AutoTokenizer on a saved ByT5Tokenizer -> {type(byt5).__name__}  is_fast={byt5.is_fast}")

    with saved_demo_tokenizer() as folder:
        rust = BertTokenizer.from_pretrained(folder)
        python = BertTokenizerLegacy(vocab_file=str(write_vocab_txt(folder)))
    base = type(python).__mro__[1].__name__
    print(f"{type(python).__name__}  is_fast={python.is_fast}  base={base}")
    lines = read_corpus()
    same = all(python(line)["input_ids"] == rust(line)["input_ids"] for line in lines)
    print(f"same ids as BertTokenizer on all {len(lines)} corpus lines: {same}")
    print(
        f"model_input_names: BertTokenizer {rust.model_input_names}, "
        f"BertTokenizerLegacy {python.model_input_names}"
    )
    pair = lines[0], lines[1]
    print(
        f"keys for a pair: BertTokenizer {list(rust(*pair).keys())}, "
        f"BertTokenizerLegacy {list(python(*pair).keys())}"
    )
    pairs = list(itertools.pairwise(lines))
    same_pairs = all(
        python(a, b, return_token_type_ids=True).data == {
            key: rust(a, b)[key] for key in ("input_ids", "token_type_ids", "attention_mask")
        }
        for a, b in pairs
    )
    print(
        f"with return_token_type_ids=True, same ids and token types on {len(pairs)} corpus "
        f"pairs: {same_pairs}"
    )
    try:
        python(SAMPLE_SENTENCE).word_ids()
    except ValueError as error:
        print(f"word_ids(): ValueError: {error}")
    handler = _RecordingHandler()
    hf_logger = logging.getLogger("transformers")
    hf_logger.addHandler(handler)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            encoded = python(SAMPLE_SENTENCE, return_offsets_mapping=True)
    finally:
        hf_logger.removeHandler(handler)
    print(
        f"offset_mapping returned: {'offset_mapping' in encoded}; "
        f"warnings or log records: {len(caught) + len(handler.records)}"
    )
