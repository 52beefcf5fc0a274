"""Training a tokenizer locally: the four pipeline stages, saving, and reproducible training.

A ``tokenizers.Tokenizer`` is a pipeline of four stages, applied in this order by ``encode``:

1. **Normalizer**: cleans the raw string (Unicode NFD, lowercasing, stripping accents ...).
   Offsets still point into the original string, however much the normalizer changed it
   (``demo_offsets_after_normalization``).
2. **Pre-tokenizer**: cuts the normalized string into words (here on whitespace and
   punctuation). The model splits each word on its own, so no token crosses a word boundary
   drawn here (``demo_pre_tokenizer``, ``demo_model``).
3. **Model**: splits each word into tokens from its vocabulary. WordPiece marks pieces that
   continue a word with ``##``; a word it cannot spell becomes ``[UNK]`` as a whole.
   The model is the only stage that is *trained*.
4. **Post-processor**: adds special tokens around the result (``[CLS] A [SEP]`` or
   ``[CLS] A [SEP] B [SEP]`` for a pair) and sets the token type ids of each segment.

A decoder (``decoders.WordPiece``) goes the other way, gluing ``##`` pieces back into words;
it does not undo the normalizer (``demo_decoder``).

Training needs no download: ``Tokenizer.train_from_iterator`` accepts any iterator of strings,
here the lines of the small corpus in ``refkit/_corpus.py`` (``demo_train_locally`` prints how
many). ``tokenizer.save("tokenizer.json")`` writes the whole pipeline (every stage plus the
vocabulary) to one JSON file, which ``Tokenizer.from_file`` reads back. For transformers, wrap
the trained object in ``PreTrainedTokenizerFast(tokenizer_object=...)`` (in transformers 5 that
name is an alias of ``TokenizersBackend``), ``save_pretrained`` it to a folder, and load that
folder with ``AutoTokenizer.from_pretrained(folder)``, which reads it from disk. Saving through a
model-specific class such as ``BertTokenizer`` also works, but on load that class keeps only the
vocabulary and rebuilds its own normalizer, pre-tokenizer and post-processor (see the
``auto_tokenizer_classes`` topic).

Reproducible training with tokenizers 0.23.3 on this corpus: every variant of
``MODEL_VARIANTS`` is trained five times in one process
(``demo_training_reproducibility_by_model``) and once in each of 15 fresh Python processes
(``demo_training_in_fresh_processes``), and the token sets, the vocabularies (tokens with ids)
and the saved ``tokenizer.json`` are compared:

* **WordLevel**, **BPE** (``Whitespace`` pre-tokenizer, no prefix or suffix) and **byte-level
  BPE** (GPT-2/RoBERTa style): the same vocabulary, merges and ids every time.
* **BPE with** ``end_of_word_suffix="</w>"``: the same tokens, but different ids on every run.
* **BPE with** ``continuing_subword_prefix="##"`` and **WordPiece** (which is the BPE trainer
  with that prefix): different ids, and in most runs different tokens too (300 trainings of each
  gave 112 and 115 different token sets, so two runs now and then agree on their tokens, though
  never on their ids). The BPE trainer numbers the plain characters in sorted order but creates
  the prefixed and suffixed forms while iterating over a Rust hash map (``AHashMap``), whose
  order changes from run to run; those ids then break ties between equally frequent merges
  (``tokenizers/src/models/bpe/trainer.rs`` at v0.23.1: ``compute_alphabet`` line 346,
  ``tokenize_words`` lines 364-400, ``Merge::cmp`` lines 30-39). Setting
  ``RAYON_NUM_THREADS=1``, ``TOKENIZERS_PARALLELISM=false`` or ``PYTHONHASHSEED=0`` (each alone
  or all three) in the fresh processes changes nothing. Reported upstream as
  https://github.com/huggingface/tokenizers/issues/1794, where the fix proposed in pull request
  2066 traces it to the hash map.
* **Unigram**: same tokens, but the stored log-probabilities differ in the last digits
  (below 1e-12) on every run, so ``tokenizer.json`` is never byte-identical; where two pieces
  tie on score their ids can swap (at ``vocab_size=150`` about half of the runs swapped ``j``
  and ``q``, ``demo_unigram_tied_scores``), which changes encoded ids. At ``vocab_size=400``
  the ids were stable.

The demo tokenizer (``train_demo_tokenizer``) therefore trains WordPiece with its ids pinned:
every character of the corpus and every ``##`` piece is handed to the trainer, sorted, as a
special token, so it finds them already numbered (in the order the trainer itself would give
the characters) and no hash order is left to leak into the result; afterwards they are removed
from the tokenizer's list of special (added) tokens. The vocabulary, ids and ``tokenizer.json``
are then identical on every run, which the snippets print as a fingerprint.

What the original notes got right (and what they leave out):

* "Tokenizer details from HF (refer to this if you want to train own tokenizer)", pointing at
  the tokenizers pipeline page: right. The page explains the same four stages, shown here on
  one sentence by ``demo_normalizer``, ``demo_pre_tokenizer``, ``demo_model`` and
  ``demo_post_processor`` (and the decoder by ``demo_decoder``), and ends with a BERT tokenizer
  trained from scratch.
* Left out: the page's from-scratch recipe trains on the wikitext-103 files, which must be
  downloaded first (``demo_train_locally`` trains on a local corpus instead), and it does not
  warn that this WordPiece recipe learns a different vocabulary on every run in tokenizers
  0.23.3 (``demo_training_reproducibility_by_model``), nor how to avoid it
  (``demo_reproducible_training``).
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from tokenizers import (
    Tokenizer,
    decoders,
    models,
    normalizers,
    pre_tokenizers,
    processors,
    trainers,
)

from refkit._corpus import CORPUS_LINES
from refkit.engine.references import Reference

TITLE: str = "Training a tokenizer: pipeline, saving, reproducibility"

REFERENCES: tuple[Reference, ...] = (
    Reference(
        url="https://huggingface.co/docs/tokenizers/pipeline",
        title="The tokenization pipeline (Hugging Face tokenizers docs)",
        good_for=(
            "What normalization, pre-tokenization, the model and post-processing each do, "
            "with a BERT tokenizer built from scratch at the end."
        ),
        search_query=None,
    ),
)

__all__ = [
    "FRESH_PROCESS_SETTINGS",
    "MODEL_KINDS",
    "MODEL_VARIANTS",
    "PIPELINE_SENTENCE",
    "REFERENCES",
    "SPECIAL_TOKENS",
    "TITLE",
    "UNSTABLE_VARIANTS",
    "corpus_alphabet",
    "demo_decoder",
    "demo_model",
    "demo_normalizer",
    "demo_offsets_after_normalization",
    "demo_post_processor",
    "demo_pre_tokenizer",
    "demo_reproducible_training",
    "demo_save_and_load_tokenizer_json",
    "demo_train_locally",
    "demo_training_in_fresh_processes",
    "demo_training_reproducibility_by_model",
    "demo_unigram_tied_scores",
    "demo_wrap_for_transformers",
    "empty_pipeline",
    "read_corpus",
    "save_demo_tokenizer",
    "saved_demo_tokenizer",
    "start_fresh_training",
    "train_demo_tokenizer",
    "train_model",
    "training_fingerprints",
    "transformers_major",
    "vocab_fingerprint",
]

SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]

# One sentence that exercises every stage: capitals and accents (normalizer), punctuation
# (pre-tokenizer), known, split and unknown words (model), special tokens (post-processor).
PIPELINE_SENTENCE = "Déjà vu: TOKENIZERS split words?"

MODEL_KINDS = (
    "wordpiece",
    "bpe",
    "byte-level-bpe",
    "bpe-end-of-word-suffix",
    "bpe-continuing-prefix",
    "unigram",
    "wordlevel",
)
"""What ``train_model`` can train. The three BPE variants differ from ``bpe`` in one setting:
``byte-level-bpe`` is GPT-2/RoBERTa style (``ByteLevel`` pre-tokenizer, all 256 byte symbols
as the initial alphabet, no normalizer); ``bpe-end-of-word-suffix`` marks the last piece of a
word with ``</w>``; ``bpe-continuing-prefix`` marks pieces inside a word with ``##``."""

MODEL_VARIANTS: dict[str, tuple[str, bool]] = {
    "wordpiece": ("wordpiece", False),
    "wordpiece, ids pinned": ("wordpiece", True),
    "bpe": ("bpe", False),
    "bpe, byte-level": ("byte-level-bpe", False),
    "bpe, suffix </w>": ("bpe-end-of-word-suffix", False),
    "bpe, prefix ##": ("bpe-continuing-prefix", False),
    "unigram": ("unigram", False),
    "wordlevel": ("wordlevel", False),
}
"""The trainings the reproducibility snippets compare: label -> (model kind, ``pin_ids``)."""

UNSTABLE_VARIANTS = ("wordpiece", "bpe, suffix </w>", "bpe, prefix ##")
"""The labels of ``MODEL_VARIANTS`` whose ids change from run to run (see the snippets)."""

_SEED_VARIABLES = ("RAYON_NUM_THREADS", "TOKENIZERS_PARALLELISM", "PYTHONHASHSEED")
FRESH_PROCESS_SETTINGS: dict[str, dict[str, str]] = {
    "no variable set": {},
    "RAYON_NUM_THREADS=1": {"RAYON_NUM_THREADS": "1"},
    "TOKENIZERS_PARALLELISM=false": {"TOKENIZERS_PARALLELISM": "false"},
    "PYTHONHASHSEED=0": {"PYTHONHASHSEED": "0"},
    "all three": {
        "RAYON_NUM_THREADS": "1",
        "TOKENIZERS_PARALLELISM": "false",
        "PYTHONHASHSEED": "0",
    },
}
"""Environment variables people set hoping for reproducible training: label -> variables."""


def read_corpus() -> list[str]:
    """Return the lines of the small training corpus kept in the repository.

    Examples:
        >>> read_corpus()[0]
        'A tokenizer turns raw text into the integer ids that a language model reads.'
    """
    return list(CORPUS_LINES)


def empty_pipeline(model: models.Model) -> Tokenizer:
    """Return an untrained tokenizer around ``model`` with the demo normalizer and pre-tokenizer.

    Every tokenizer of this topic shares these two stages, so that differences between them
    come from the model alone.

    Args:
        model: A fresh ``tokenizers.models`` instance (WordPiece, BPE, Unigram, WordLevel).

    Returns:
        A tokenizer with NFD + lowercase + accent stripping and a whitespace/punctuation split.

    Examples:
        >>> tok = empty_pipeline(models.WordLevel(unk_token="[UNK]"))
        >>> tok.normalizer.normalize_str("Déjà VU")
        'deja vu'
    """
    tokenizer = Tokenizer(model)
    tokenizer.normalizer = normalizers.Sequence(
        [normalizers.NFD(), normalizers.Lowercase(), normalizers.StripAccents()]
    )
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    return tokenizer


def corpus_alphabet(
    tokenizer: Tokenizer, lines: Iterable[str], continuing_subword_prefix: str = "##"
) -> list[str]:
    """List the single characters a WordPiece trainer will start from, in a fixed order.

    The trainer numbers the characters it sees by code point, but numbers the ``##x`` pieces
    (a character that continues a word) in hash-map order, which differs on every run. Passing
    this list as special tokens numbers all of them up front, in a fixed order.

    Args:
        tokenizer: The untrained tokenizer; its normalizer and pre-tokenizer define the words.
        lines: The training text.
        continuing_subword_prefix: The trainer's prefix for pieces inside a word.

    Returns:
        Every character that starts or is inside a word, sorted by code point, followed by
        the prefixed form of every character seen inside a word, sorted too.

    Examples:
        >>> tok = empty_pipeline(models.WordPiece(unk_token="[UNK]"))
        >>> corpus_alphabet(tok, ["Ab ba", "c"])
        ['a', 'b', 'c', '##a', '##b']
    """
    all_chars: set[str] = set()
    inner_chars: set[str] = set()
    for line in lines:
        normalized = tokenizer.normalizer.normalize_str(line)
        for word, _span in tokenizer.pre_tokenizer.pre_tokenize_str(normalized):
            all_chars.update(word)
            inner_chars.update(word[1:])
    return sorted(all_chars) + [continuing_subword_prefix + c for c in sorted(inner_chars)]


def _drop_added_tokens(tokenizer: Tokenizer, keep: Iterable[str]) -> Tokenizer:
    """Return a copy of ``tokenizer`` whose added (special) tokens are only those in ``keep``.

    The tokens stay in the model's vocabulary with their ids; they only stop being special,
    which would otherwise make ``decode(skip_special_tokens=True)`` drop ordinary pieces.
    tokenizers has no API to remove an added token, hence the round trip through JSON.
    """
    kept = set(keep)
    state = json.loads(tokenizer.to_str())
    state["added_tokens"] = [t for t in state["added_tokens"] if t["content"] in kept]
    return Tokenizer.from_str(json.dumps(state))


# The BPE variants of train_model that differ only in how pieces are marked.
_BPE_OPTIONS: dict[str, dict[str, str]] = {
    "bpe": {},
    "bpe-end-of-word-suffix": {"end_of_word_suffix": "</w>"},
    "bpe-continuing-prefix": {"continuing_subword_prefix": "##"},
}


def train_model(kind: str, vocab_size: int = 400, *, pin_ids: bool = False) -> Tokenizer:
    """Train a tokenizer with the given model on the repo's corpus, as the trainers ship.

    Args:
        kind: One of ``MODEL_KINDS``: ``wordpiece``, ``bpe`` (and its three variants),
            ``unigram``, ``wordlevel``.
        vocab_size: Target vocabulary size, special tokens included.
        pin_ids: WordPiece only: number the alphabet and ``##`` pieces up front (see
            ``corpus_alphabet``) so that the training gives the same result on every run.

    Returns:
        The trained tokenizer: pre-tokenizer and model, and the normalizer of ``empty_pipeline``
        for every kind but ``byte-level-bpe``; no post-processor.

    Raises:
        ValueError: For an unknown ``kind``, or ``pin_ids`` with another model.

    Examples:
        >>> len(train_model("wordlevel").get_vocab())
        328
    """
    if kind not in MODEL_KINDS:
        raise ValueError(f"unknown model kind {kind!r}; expected one of {MODEL_KINDS}")
    if pin_ids and kind != "wordpiece":
        raise ValueError(f"pin_ids is only needed for WordPiece, not {kind!r}")
    lines = read_corpus()
    special = list(SPECIAL_TOKENS)
    trainer: trainers.Trainer
    if kind == "wordpiece":
        tokenizer = empty_pipeline(models.WordPiece(unk_token="[UNK]"))
        if pin_ids:
            special += corpus_alphabet(tokenizer, lines)
        trainer = trainers.WordPieceTrainer(
            vocab_size=vocab_size, special_tokens=special, show_progress=False
        )
    elif kind in _BPE_OPTIONS:
        # The model and its trainer must agree on how word ends or continuations are marked.
        options = _BPE_OPTIONS[kind]
        tokenizer = empty_pipeline(models.BPE(unk_token="[UNK]", **options))
        trainer = trainers.BpeTrainer(
            vocab_size=vocab_size, special_tokens=special, show_progress=False, **options
        )
    elif kind == "byte-level-bpe":
        # GPT-2/RoBERTa style: bytes mapped to printable characters, no normalizer, and every
        # one of the 256 byte symbols in the alphabet, so no input is out of vocabulary.
        tokenizer = Tokenizer(models.BPE())
        tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        trainer = trainers.BpeTrainer(
            vocab_size=vocab_size,
            special_tokens=special,
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
            show_progress=False,
        )
    elif kind == "unigram":
        tokenizer = empty_pipeline(models.Unigram())
        trainer = trainers.UnigramTrainer(
            vocab_size=vocab_size, special_tokens=special, unk_token="[UNK]", show_progress=False
        )
    else:
        tokenizer = empty_pipeline(models.WordLevel(unk_token="[UNK]"))
        trainer = trainers.WordLevelTrainer(
            vocab_size=vocab_size, special_tokens=special, show_progress=False
        )
    tokenizer.train_from_iterator(lines, trainer)
    return _drop_added_tokens(tokenizer, SPECIAL_TOKENS) if pin_ids else tokenizer


def vocab_fingerprint(tokenizer: Tokenizer) -> str:
    """Return a short hash of the vocabulary: every token with its id, in id order.

    Examples:
        >>> vocab_fingerprint(train_model("wordlevel")) == vocab_fingerprint(
        ...     train_model("wordlevel"))
        True
    """
    vocab = tokenizer.get_vocab()
    pairs = sorted(vocab.items(), key=lambda item: item[1])
    return hashlib.sha256(json.dumps(pairs).encode("utf-8")).hexdigest()[:12]


def _short_hash(value: object) -> str:
    """Return the first 12 hex digits of the SHA-256 of ``value`` written as JSON."""
    return hashlib.sha256(json.dumps(value).encode("utf-8")).hexdigest()[:12]


def training_fingerprints() -> dict[str, dict[str, str]]:
    """Train every model of ``MODEL_VARIANTS`` once and fingerprint what each one learned.

    Returns:
        For each label of ``MODEL_VARIANTS``: ``vocab``, the ``vocab_fingerprint`` (tokens and
        ids); ``tokens``, a hash of the tokens alone; ``json``, a hash of the whole
        ``tokenizer.json``.

    Examples:
        >>> training_fingerprints()["bpe"]["vocab"]
        'f5f7ef5b383d'
    """
    fingerprints = {}
    for label, (kind, pin_ids) in MODEL_VARIANTS.items():
        tokenizer = train_model(kind, pin_ids=pin_ids)
        fingerprints[label] = {
            "vocab": vocab_fingerprint(tokenizer),
            "tokens": _short_hash(sorted(tokenizer.get_vocab())),
            "json": _short_hash(tokenizer.to_str()),
        }
    return fingerprints


def start_fresh_training(variables: Mapping[str, str]) -> subprocess.Popen[str]:
    """Start a new Python process that prints ``training_fingerprints()`` as one line of JSON.

    The process gets this process's environment without ``RAYON_NUM_THREADS``,
    ``TOKENIZERS_PARALLELISM`` and ``PYTHONHASHSEED``, then ``variables`` on top.

    Args:
        variables: Environment variables to set in the new process.

    Returns:
        The running process; read its result with ``communicate()``.

    Examples:
        >>> output, _ = start_fresh_training({"PYTHONHASHSEED": "0"}).communicate()
        >>> json.loads(output)["wordlevel"]["vocab"]
        'fd5e8774f8a4'
    """
    env = {name: value for name, value in os.environ.items() if name not in _SEED_VARIABLES}
    code = "import json, refkit.train_tokenizer as t; print(json.dumps(t.training_fingerprints()))"
    return subprocess.Popen(
        [sys.executable, "-c", code], env={**env, **variables}, stdout=subprocess.PIPE, text=True
    )


def train_demo_tokenizer(vocab_size: int = 400) -> Tokenizer:
    """Train the BERT-style WordPiece tokenizer that several topics use, on the repo's corpus.

    The WordPiece ids are pinned (see ``corpus_alphabet``), so this returns the same
    vocabulary, ids and ``tokenizer.json`` on every call and in every process, which plain
    ``WordPieceTrainer`` training does not in tokenizers 0.23.

    Args:
        vocab_size: Size of the vocabulary to learn, special tokens included.

    Returns:
        A trained ``tokenizers.Tokenizer`` with normalizer, pre-tokenizer, WordPiece model,
        ``[CLS] A [SEP] B [SEP]`` post-processor and a WordPiece decoder. ``[PAD]``,
        ``[UNK]``, ``[CLS]``, ``[SEP]``, ``[MASK]`` have ids 0 to 4.

    Examples:
        >>> tok = train_demo_tokenizer()
        >>> tok.encode("Tokenizers split words").tokens
        ['[CLS]', 'tokenizer', '##s', 'split', 'words', '[SEP]']
    """
    tokenizer = train_model("wordpiece", vocab_size, pin_ids=True)
    cls_id, sep_id = tokenizer.token_to_id("[CLS]"), tokenizer.token_to_id("[SEP]")
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", cls_id), ("[SEP]", sep_id)],
    )
    tokenizer.decoder = decoders.WordPiece()
    return tokenizer


def save_demo_tokenizer(folder: Path) -> Path:
    """Train the demo tokenizer and save it, wrapped for transformers, into ``folder``.

    The folder then holds ``tokenizer.json`` and ``tokenizer_config.json`` (whose
    ``tokenizer_class`` is ``BertTokenizer``) and loads with
    ``AutoTokenizer.from_pretrained(folder)`` from disk. In transformers 5 that load returns a
    ``BertTokenizer`` which keeps only the vocabulary of ``tokenizer.json`` and rebuilds BERT's
    own normalizer, pre-tokenizer and post-processor
    (``auto_tokenizer_classes.demo_class_rebuilds_pipeline``); on the corpus it gives the same
    ids as ``train_demo_tokenizer()``, but on runs of punctuation such as ``...`` it does not
    (BERT splits every punctuation character on its own).

    Args:
        folder: An existing, writable folder.

    Returns:
        The same folder, for chaining.
    """
    # BertTokenizerFast, not BertTokenizer: in transformers 5 the two names are one class, and
    # in 4.x (the version environments) only the fast class wraps a tokenizers.Tokenizer.
    from transformers import BertTokenizerFast

    BertTokenizerFast(tokenizer_object=train_demo_tokenizer()).save_pretrained(str(folder))
    return folder


def transformers_major() -> int:
    """The major version of the installed transformers: 5 by default, 4 in the version environments.

    Read from the package metadata, so nothing is imported. The demonstrations that run in several
    environments use it where a 4.x class must be built another way.

    Examples:
        >>> transformers_major() >= 4
        True
    """
    from importlib.metadata import version

    return int(version("transformers").split(".")[0])


@contextmanager
def saved_demo_tokenizer() -> Iterator[Path]:
    """Yield a temporary folder holding the saved demo tokenizer; removed afterwards.

    Examples:
        >>> with saved_demo_tokenizer() as folder:
        ...     sorted(p.name for p in folder.iterdir())
        ['tokenizer.json', 'tokenizer_config.json']
    """
    with tempfile.TemporaryDirectory(prefix="refkit-tok-") as tmp:
        yield save_demo_tokenizer(Path(tmp))


# --------------------------------------------------------------------------------------------
# Snippets
# --------------------------------------------------------------------------------------------


def demo_normalizer() -> None:
    """Stage 1, the normalizer: decompose accents (NFD), lowercase, then drop the accents.

    Normalizing first means "Déjà", "DEJA" and "deja" all reach the model as the same word.

    Examples:
        >>> demo_normalizer()
        raw:        'Déjà vu: TOKENIZERS split words?'
        normalized: 'deja vu: tokenizers split words?'
    """
    tokenizer = train_demo_tokenizer()
    print(f"raw:        {PIPELINE_SENTENCE!r}")
    print(f"normalized: {tokenizer.normalizer.normalize_str(PIPELINE_SENTENCE)!r}")


def demo_pre_tokenizer() -> None:
    """Stage 2, the pre-tokenizer: cut the normalized text into words, with character offsets.

    ``Whitespace`` splits on spaces and separates punctuation; the model will never produce a
    token that crosses one of these boundaries.

    Examples:
        >>> demo_pre_tokenizer()
        deja        (0, 4)
        vu          (5, 7)
        :           (7, 8)
        tokenizers  (9, 19)
        split       (20, 25)
        words       (26, 31)
        ?           (31, 32)
    """
    tokenizer = train_demo_tokenizer()
    normalized = tokenizer.normalizer.normalize_str(PIPELINE_SENTENCE)
    for word, span in tokenizer.pre_tokenizer.pre_tokenize_str(normalized):
        print(f"{word:<11} {span}")


def demo_model() -> None:
    """Stage 3, the model: WordPiece spells each word with pieces from its learned vocabulary.

    Pieces inside a word carry the ``##`` prefix. A word that cannot be spelled entirely
    (``deja``: no ``##j`` was learned) becomes a single ``[UNK]``, and so does a character
    never seen in training (``?``).

    Examples:
        >>> demo_model()
        deja        ['[UNK]']
        vu          ['v', '##u']
        :           [':']
        tokenizers  ['tokenizer', '##s']
        split       ['split']
        words       ['words']
        ?           ['[UNK]']
        in the vocabulary: 'd' True, '##e' True, '##j' False, '##a' True, '?' False
        '?' occurs in the training corpus: False
    """
    tokenizer = train_demo_tokenizer()
    normalized = tokenizer.normalizer.normalize_str(PIPELINE_SENTENCE)
    for word, _span in tokenizer.pre_tokenizer.pre_tokenize_str(normalized):
        pieces = [token.value for token in tokenizer.model.tokenize(word)]
        print(f"{word:<11} {pieces}")
    # Why the two [UNK]: "deja" needs a "##j" piece, and "?" was never seen at all.
    vocab = tokenizer.get_vocab()
    known = ", ".join(f"{piece!r} {piece in vocab}" for piece in ("d", "##e", "##j", "##a", "?"))
    print(f"in the vocabulary: {known}")
    print(f"'?' occurs in the training corpus: {any('?' in line for line in read_corpus())}")


def demo_post_processor() -> None:
    """Stage 4, the post-processor: add ``[CLS]``/``[SEP]`` and mark the segments of a pair.

    ``encode`` runs all four stages. ``TemplateProcessing`` frames one sentence as
    ``[CLS] A [SEP]`` and a pair as ``[CLS] A [SEP] B [SEP]``, the second segment with
    token type id 1.

    Examples:
        >>> demo_post_processor()
        ['[CLS]', '[UNK]', 'v', '##u', ':', 'tokenizer', '##s', 'split', 'words', '[UNK]', '[SEP]']
        pair tokens: ['[CLS]', 'split', 'words', '[SEP]', 'pa', '##d', 'the', '##m', '.', '[SEP]']
        type ids:    [0, 0, 0, 0, 1, 1, 1, 1, 1, 1]
    """
    tokenizer = train_demo_tokenizer()
    print(tokenizer.encode(PIPELINE_SENTENCE).tokens)
    pair = tokenizer.encode("Split words", "Pad them.")
    print(f"pair tokens: {pair.tokens}")
    print(f"type ids:    {pair.type_ids}")


def demo_decoder() -> None:
    """The decoder, ``decoders.WordPiece``: ids back to text, with the ``##`` pieces glued on.

    Without a decoder, ``decode`` only joins the tokens with spaces. ``decoders.WordPiece``
    removes the ``##`` prefix and the space before it, and its ``cleanup`` (on by default) also
    removes the space before punctuation such as ``,`` and ``.``. Decoding does not undo the
    normalizer: the text comes back lowercased and without accents, and ``[UNK]`` (a special
    token, skipped by default) leaves a gap.

    Examples:
        >>> demo_decoder()
        tokens: ['[CLS]', 'tokenizer', '##s', 'split', 'words', ',', 'the', '##n', 'pa', '##d', \
'the', '##m', '.', '[SEP]']
        no decoder:                'tokenizer ##s split words , the ##n pa ##d the ##m .'
        WordPiece():               'tokenizers split words, then pad them.'
        WordPiece(cleanup=False):  'tokenizers split words , then pad them .'
        round trip of 'Déjà vu: TOKENIZERS split words?' -> 'vu : tokenizers split words'
    """
    tokenizer = train_demo_tokenizer()
    encoding = tokenizer.encode("Tokenizers split words, then pad them.")
    print(f"tokens: {encoding.tokens}")
    without = train_demo_tokenizer()
    without.decoder = None
    print(f"{'no decoder:':<26} {without.decode(encoding.ids)!r}")
    print(f"{'WordPiece():':<26} {tokenizer.decode(encoding.ids)!r}")
    tokenizer.decoder = decoders.WordPiece(cleanup=False)
    print(f"{'WordPiece(cleanup=False):':<26} {tokenizer.decode(encoding.ids)!r}")
    tokenizer.decoder = decoders.WordPiece()
    round_trip = tokenizer.decode(tokenizer.encode(PIPELINE_SENTENCE).ids)
    print(f"round trip of {PIPELINE_SENTENCE!r} -> {round_trip!r}")


def demo_offsets_after_normalization() -> None:
    """Offsets point into the original text, even after a normalizer changed its length.

    The normalizer lowercases, strips accents and (NFD) decomposes characters, so the token
    ``tokenizer`` is not a substring of the input. Its offsets are nevertheless positions in
    the *original* string: slicing the input with them gives back the original spelling,
    capitals and accent included. The second input types the accent as a separate combining
    character (``E`` + U+0301, the decomposed form): it belongs to the token it follows, so the
    same word gets wider offsets. transformers' ``offset_mapping`` holds the same pairs. Strings
    are printed with ``ascii()``, so that ``\\xc9`` (\xc9) and ``\\u0301`` (the combining accent)
    can be told apart.

    Examples:
        >>> demo_offsets_after_normalization()
        input 'TOK\\xc9NIZERS split' (16 characters) -> normalized 'tokenizers split'
          tokenizer  (0, 9)    text[0:9]   = 'TOK\\xc9NIZER'
          ##s        (9, 10)   text[9:10]  = 'S'
          split      (11, 16)  text[11:16] = 'split'
        input 'TOKE\\u0301NIZERS split' (17 characters) -> normalized 'tokenizers split'
          tokenizer  (0, 10)   text[0:10]  = 'TOKE\\u0301NIZER'
          ##s        (10, 11)  text[10:11] = 'S'
          split      (12, 17)  text[12:17] = 'split'
        transformers offset_mapping, same pairs: True
        Lowercased tokens over the original characters: \xc9 as one character, then as E + U+0301
        'TOK\\xc9NIZERS split' (16 characters)
        #  token      special  span      text
        0  [CLS]      yes      [0, 0)    ''
        1  tokenizer           [0, 9)    TOK\xc9NIZER
        2  ##s                 [9, 10)   S
        3  split               [11, 16)  split
        4  [SEP]      yes      [0, 0)    ''
        <BLANKLINE>
        'TOKE\\u0301NIZERS split' (17 characters)
        #  token      special  span      text
        0  [CLS]      yes      [0, 0)    ''
        1  tokenizer           [0, 10)   TOKE\u0301NIZER
        2  ##s                 [10, 11)  S
        3  split               [12, 17)  split
        4  [SEP]      yes      [0, 0)    ''
    """
    import unicodedata

    from transformers import PreTrainedTokenizerFast

    from refkit.engine.display import show
    from refkit.engine.views import side_by_side, token_strip

    tokenizer = train_demo_tokenizer()
    wrapped = PreTrainedTokenizerFast(tokenizer_object=tokenizer)
    composed = "TOK\u00c9NIZERS split"  # É as one character, U+00C9
    same_pairs = True
    strips = []
    for text in (composed, unicodedata.normalize("NFD", composed)):
        normalized = tokenizer.normalizer.normalize_str(text)
        print(f"input {text!a} ({len(text)} characters) -> normalized {normalized!r}")
        encoding = tokenizer.encode(text)
        for token, (start, end) in zip(encoding.tokens, encoding.offsets, strict=True):
            if token in SPECIAL_TOKENS:
                continue  # [CLS] and [SEP] come from no text: their offsets are (0, 0)
            where = f"text[{start}:{end}]"
            print(f"  {token:<10} {(start, end)!s:<9} {where:<11} = {text[start:end]!a}")
        mapping = wrapped(text, return_offsets_mapping=True)["offset_mapping"]
        same_pairs = same_pairs and [tuple(pair) for pair in mapping] == encoding.offsets
        strips.append(
            token_strip(
                encoding.tokens,
                offsets=encoding.offsets,
                special=[token in SPECIAL_TOKENS for token in encoding.tokens],
                text=text,
                title=f"{text!a} ({len(text)} characters)",
            )
        )
    print(f"transformers offset_mapping, same pairs: {same_pairs}")
    show(
        side_by_side(*strips),
        caption="Lowercased tokens over the original characters: É as one character, "
        "then as E + U+0301",
    )


def demo_train_locally() -> None:
    """Train a WordPiece tokenizer on a local corpus: no dataset download, a few milliseconds.

    ``train_from_iterator`` takes any iterable of strings. The vocabulary holds the special
    tokens (ids 0 to 4, in the order given to the trainer), the characters, and the pieces
    learned by merging frequent pairs.

    Examples:
        >>> demo_train_locally()
        corpus lines: 49
        vocab size:   400
        special ids:  {'[PAD]': 0, '[UNK]': 1, '[CLS]': 2, '[SEP]': 3, '[MASK]': 4}
        longest learned pieces: ['classification', 'vocabulary', '##ication', '##ization']
    """
    tokenizer = train_demo_tokenizer(vocab_size=400)
    vocab = tokenizer.get_vocab()
    print(f"corpus lines: {len(read_corpus())}")
    print(f"vocab size:   {len(vocab)}")
    print(f"special ids:  { {token: vocab[token] for token in SPECIAL_TOKENS} }")
    # Sort by length, then alphabetically, so ties print in a fixed order.
    longest = sorted(vocab, key=lambda token: (-len(token), token))[:4]
    print(f"longest learned pieces: {longest}")


def demo_save_and_load_tokenizer_json() -> None:
    """Save the whole pipeline to ``tokenizer.json`` and load it back unchanged.

    The JSON file holds all four stages, the decoder and the vocabulary, so the loaded
    tokenizer encodes exactly like the one that was trained.

    Examples:
        >>> demo_save_and_load_tokenizer_json()
        files: ['tokenizer.json']
        stages in the file: ['normalizer', 'pre_tokenizer', 'model', 'post_processor', 'decoder']
        same ids after loading: True
    """
    tokenizer = train_demo_tokenizer()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "tokenizer.json"
        tokenizer.save(str(path))
        print(f"files: {sorted(p.name for p in Path(tmp).iterdir())}")
        stored = json.loads(path.read_text(encoding="utf-8"))
        stages = ["normalizer", "pre_tokenizer", "model", "post_processor", "decoder"]
        print(f"stages in the file: {[key for key in stages if stored.get(key)]}")
        loaded = Tokenizer.from_file(str(path))
    same = loaded.encode(PIPELINE_SENTENCE).ids == tokenizer.encode(PIPELINE_SENTENCE).ids
    print(f"same ids after loading: {same}")


def demo_wrap_for_transformers() -> None:
    """Wrap the trained tokenizer for transformers, save it to a folder, load it with Auto.

    ``PreTrainedTokenizerFast`` (called ``TokenizersBackend`` in transformers 5) keeps the
    pipeline exactly as trained; naming the special tokens lets transformers pad, truncate and
    build attention masks. ``AutoTokenizer.from_pretrained`` on the local folder needs no Hub.

    Examples:
        >>> demo_wrap_for_transformers()
        files: ['tokenizer.json', 'tokenizer_config.json']
        loaded class: TokenizersBackend
        same ids as the raw tokenizer: True
        padded batch: [[2, 387, 372, 3], [2, 387, 3, 0]]
    """
    from transformers import AutoTokenizer, PreTrainedTokenizerFast

    raw = train_demo_tokenizer()
    wrapped = PreTrainedTokenizerFast(
        tokenizer_object=raw,
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
    )
    with tempfile.TemporaryDirectory() as tmp:
        wrapped.save_pretrained(tmp)
        print(f"files: {sorted(p.name for p in Path(tmp).iterdir())}")
        loaded = AutoTokenizer.from_pretrained(tmp)
    print(f"loaded class: {type(loaded).__name__}")
    same = loaded(PIPELINE_SENTENCE)["input_ids"] == raw.encode(PIPELINE_SENTENCE).ids
    print(f"same ids as the raw tokenizer: {same}")
    print(f"padded batch: {loaded(['split words', 'split'], padding=True)['input_ids']}")


def demo_reproducible_training() -> None:
    """Train the demo tokenizer three times: one vocabulary, one ``tokenizer.json``.

    The fingerprint printed here is also what every fresh process gets, so this doctest
    checks reproducibility across processes each time it runs. Plain WordPiece training,
    for comparison, numbers its ``##`` pieces in hash order and differs on every run.

    Examples:
        >>> demo_reproducible_training()
        pinned WordPiece: 1 vocabulary in 3 trainings, fingerprint b926bcca53ee
        pinned WordPiece: tokenizer.json identical: True
        plain WordPiece:  vocabulary identical in 3 trainings: False
    """
    pinned = [train_demo_tokenizer() for _ in range(3)]
    fingerprints = {vocab_fingerprint(tok) for tok in pinned}
    print(
        f"pinned WordPiece: {len(fingerprints)} vocabulary in 3 trainings, "
        f"fingerprint {vocab_fingerprint(pinned[0])}"
    )
    print(f"pinned WordPiece: tokenizer.json identical: {len({t.to_str() for t in pinned}) == 1}")
    plain = {vocab_fingerprint(train_model("wordpiece")) for _ in range(3)}
    print(f"plain WordPiece:  vocabulary identical in 3 trainings: {len(plain) == 1}")


def demo_training_reproducibility_by_model() -> None:
    """Train each tokenizer model five times on the same corpus and compare the results.

    "tokens" compares the set of tokens alone, "ids" every token with its id (the
    ``vocab_fingerprint``), "json" the whole saved tokenizer. Plain WordPiece and BPE with a
    ``##`` prefix learn different ids on every run and different tokens on most: two runs
    sometimes agree on their tokens (300 trainings of each gave 115 and 112 token sets), which is
    why five trainings are compared, not three; BPE with an end-of-word suffix learns the
    same tokens with different ids; Unigram keeps its tokens and ids (at this size) but its
    scores wobble in the last digits, so its ``tokenizer.json`` differs.

    Examples:
        >>> demo_training_reproducibility_by_model()
        5 trainings per model in this process
        model                   tokens  ids    json   fingerprint
        wordpiece               False   False  False  -
        wordpiece, ids pinned   True    True   True   b926bcca53ee
        bpe                     True    True   True   f5f7ef5b383d
        bpe, byte-level         True    True   True   4ec3d8fc55f7
        bpe, suffix </w>        True    False  False  -
        bpe, prefix ##          False   False  False  -
        unigram                 True    True   False  732a85cd798c
        wordlevel               True    True   True   fd5e8774f8a4
    """
    trainings = 5
    print(f"{trainings} trainings per model in this process")
    print(f"{'model':<23} {'tokens':<7} {'ids':<6} {'json':<6} fingerprint")
    for label, (kind, pin_ids) in MODEL_VARIANTS.items():
        runs = [train_model(kind, vocab_size=400, pin_ids=pin_ids) for _ in range(trainings)]
        same_tokens = len({_short_hash(sorted(tok.get_vocab())) for tok in runs}) == 1
        same_ids = len({vocab_fingerprint(tok) for tok in runs}) == 1
        same_json = len({tok.to_str() for tok in runs}) == 1
        fingerprint = vocab_fingerprint(runs[0]) if same_ids else "-"
        print(f"{label:<23} {same_tokens!s:<7} {same_ids!s:<6} {same_json!s:<6} {fingerprint}")


def demo_training_in_fresh_processes() -> None:
    """Train every model in 15 fresh Python processes, with and without the usual "seed" variables.

    Three processes run under each setting of ``FRESH_PROCESS_SETTINGS``, and each trains
    every model once. The first table compares all 15 processes, like the in-process table
    (``demo_training_reproducibility_by_model``): the fingerprints are the same as there. The
    second counts, for the three variants whose ids move, how many different vocabularies
    (tokens with ids) the 3 processes of each setting learned: one each, whatever is set.

    Examples:
        >>> demo_training_in_fresh_processes()
        15 fresh processes, 3 per setting, each training every model once
        model                   tokens  ids    json   fingerprint
        wordpiece               False   False  False  -
        wordpiece, ids pinned   True    True   True   b926bcca53ee
        bpe                     True    True   True   f5f7ef5b383d
        bpe, byte-level         True    True   True   4ec3d8fc55f7
        bpe, suffix </w>        True    False  False  -
        bpe, prefix ##          False   False  False  -
        unigram                 True    True   False  732a85cd798c
        wordlevel               True    True   True   fd5e8774f8a4
        distinct vocabularies in the 3 processes of each setting:
          setting                       wordpiece  bpe, suffix </w>  bpe, prefix ##
          no variable set               3          3                 3
          RAYON_NUM_THREADS=1           3          3                 3
          TOKENIZERS_PARALLELISM=false  3          3                 3
          PYTHONHASHSEED=0              3          3                 3
          all three                     3          3                 3
    """
    # Start all 15 processes first, then collect: they run side by side.
    started = {
        (setting, run): start_fresh_training(variables)
        for setting, variables in FRESH_PROCESS_SETTINGS.items()
        for run in range(3)
    }
    results = {key: json.loads(process.communicate()[0]) for key, process in started.items()}
    print(f"{len(results)} fresh processes, 3 per setting, each training every model once")
    print(f"{'model':<23} {'tokens':<7} {'ids':<6} {'json':<6} fingerprint")
    for label in MODEL_VARIANTS:
        same = {
            part: len({result[label][part] for result in results.values()}) == 1
            for part in ("tokens", "vocab", "json")
        }
        fingerprint = next(iter(results.values()))[label]["vocab"] if same["vocab"] else "-"
        print(
            f"{label:<23} {same['tokens']!s:<7} {same['vocab']!s:<6} {same['json']!s:<6} "
            f"{fingerprint}"
        )
    print("distinct vocabularies in the 3 processes of each setting:")
    print(f"  {'setting':<29} {UNSTABLE_VARIANTS[0]:<10} {UNSTABLE_VARIANTS[1]:<17} "
          f"{UNSTABLE_VARIANTS[2]}")
    for setting in FRESH_PROCESS_SETTINGS:
        counts = [
            len({results[setting, run][label]["vocab"] for run in range(3)})
            for label in UNSTABLE_VARIANTS
        ]
        print(f"  {setting:<29} {counts[0]:<10} {counts[1]:<17} {counts[2]}")


def demo_unigram_tied_scores() -> None:
    """Unigram: pieces that tie on score may swap ids between trainings.

    At ``vocab_size=150`` the characters ``j`` and ``q`` end with exactly the same score, and
    their order in the vocabulary (hence their ids) follows hash order: about half of the
    trainings swap them. The snippet trains until it sees a swap (it gives up after 40). The
    scores of the other pieces are not exactly equal between the two trainings either: they
    differ in the last digits, which is why Unigram's ``tokenizer.json`` is never the same.

    Examples:
        >>> demo_unigram_tied_scores()
        pieces whose ids changed: ['j', 'q']
        their scores are equal: True
        the two trainings store identical scores: False
        largest score difference below 1e-12: True
    """
    first = train_model("unigram", vocab_size=150)
    for _ in range(40):
        other = train_model("unigram", vocab_size=150)
        if vocab_fingerprint(other) != vocab_fingerprint(first):
            break
    else:
        print("no swap seen in 40 trainings")
        return
    ids_a, ids_b = first.get_vocab(), other.get_vocab()
    moved = sorted(token for token in ids_a if ids_a[token] != ids_b[token])
    print(f"pieces whose ids changed: {moved}")
    # The serialized model stores [piece, log-probability] pairs.
    scores = dict(json.loads(first.to_str())["model"]["vocab"])
    print(f"their scores are equal: {len({round(scores[t], 12) for t in moved}) == 1}")
    other_scores = dict(json.loads(other.to_str())["model"]["vocab"])
    gap = max(abs(scores[piece] - other_scores[piece]) for piece in scores)
    print(f"the two trainings store identical scores: {gap == 0}")
    print(f"largest score difference below 1e-12: {gap < 1e-12}")
