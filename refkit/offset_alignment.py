"""Aligning word labels with sub-word tokens: offsets, ``word_ids()`` and the ``-100`` label.

Token classification (named-entity recognition, part-of-speech tagging) comes with one label per
*word*, but a sub-word tokenizer turns one word into one or more *tokens* and adds special tokens
such as ``[CLS]`` and ``[SEP]`` that belong to no word. Before training, every token therefore
needs a label, and the usual recipe is:

* the first token of each word gets that word's label;
* continuation tokens (``##ing``) and special tokens get ``-100``;
* ``-100`` is the default ``ignore_index`` of ``torch.nn.CrossEntropyLoss``, so those positions
  add nothing to the loss, and the loss is the mean over the remaining positions only. The token
  classification heads in transformers (``BertForTokenClassification`` and friends) use that
  default loss, and ``DataCollatorForTokenClassification`` pads labels with ``-100`` too.

There are two ways to find "the first token of each word" with a fast tokenizer:

* **Offsets** (``return_offsets_mapping=True``): each token carries ``(start, end)`` character
  positions. When the input is already split into words (``is_split_into_words=True``) the
  positions count from the start of *each word*, so a token starting at ``0`` with a non-zero end
  opens a word, and special tokens have ``(0, 0)``. This is the rule of the v4.2.2
  ``custom_datasets`` tutorial that the notes link to.
* **Word ids** (``encoding.word_ids()``): the index of the input word each token came from, or
  ``None`` for special tokens. A token whose word id differs from the previous token's opens a
  word. This is what the current transformers token-classification guide uses.

On ordinary input the two rules give identical labels (``demo_labels_from_word_ids``;
``demo_alignment_strip`` shows the spans, word ids and labels of every token in one picture, next
to the other common rule, which labels every sub-token). The offsets
rule, however, infers word starts from character arithmetic and then pours the word labels into
the positions it found in order, so it breaks whenever the number of "word starts" it sees is not
the number of words: a word that normalizes to nothing, truncation, or a tokenizer whose offset
conventions differ (byte-level BPE with or without ``trim_offsets``). ``word_ids()`` asks the
tokenizer directly and has none of these problems.

Offsets are still the right tool when you need *character* positions: mapping predictions back to
spans of the original text, or finding the answer span in extractive question answering.

What the original notes got right, and what is outdated:

* "Why do we use offsets?" (link to the v4.2.2 tutorial): right that the tutorial aligns word
  labels through ``offset_mapping`` and sets special and continuation tokens to ``-100``
  (``demo_labels_from_offsets``), and the rule still works in transformers 5 on clean, untruncated
  input to a WordPiece tokenizer (``demo_labels_from_word_ids`` shows the same labels).
* Outdated: the link points at the docs of transformers v4.2.2 (January 2021). That tutorial was
  rewritten; today's guide aligns labels with ``word_ids()``. The offsets rule is fragile: it
  raises a ``ValueError`` when a word yields no token or when truncation cuts words off
  (``demo_offsets_rule_breaks``; users report the same error with truncated documents in
  huggingface/transformers issues 11652 and 7937; BERT's own normalizer also erases a word made
  of a zero-width space, ``demo_bert_normalizer_deletes_invisible_characters``), and on a
  RoBERTa-style byte-level BPE tokenizer it picks a different token than ``word_ids()`` or
  fails, depending on ``trim_offsets`` (``demo_offsets_rule_on_byte_level_bpe``).
* Worth adding: offsets are relative to each word only with ``is_split_into_words=True``; on a
  plain string they point into the whole string (``demo_offsets_and_word_ids``), and
  ``word_ids()`` numbers the tokenizer's own words, so ``sub-word`` counts as three
  (``demo_word_ids_on_plain_text``).
* Changed since v4: "byte-level BPE tokenizers need ``add_prefix_space=True`` for pre-split
  input". The fast classes of transformers 4 enforced it with an assertion
  (``tokenization_roberta_fast.py`` lines 210-227 at v4.57.6, shown live in the
  ``transformers-4.57`` environment, where the Python ``RobertaTokenizer`` added the space
  itself); transformers 5 accepts the input without it and quietly tokenizes every word as if it began
  the text (``demo_pre_split_words_on_byte_level_bpe``). The option is still what you want, but
  nothing stops you any more when you forget it.
* The ``-100`` convention is confirmed: ``CrossEntropyLoss`` ignores those positions and averages
  over the kept ones (``demo_loss_ignores_minus_100``), the token-classification head's loss does
  the same (``demo_model_loss_skips_ignored_tokens``), and the collator pads labels with ``-100``
  (``demo_collator_pads_labels_with_minus_100``).
"""

from __future__ import annotations

import json
import tempfile
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from refkit.engine.device import get_device, seed_everything
from refkit.engine.references import Reference
from refkit.train_tokenizer import read_corpus, train_demo_tokenizer, transformers_major

if TYPE_CHECKING:
    from tokenizers import Tokenizer
    from transformers import BertTokenizer, RobertaTokenizer

__all__ = [
    "ENVIRONMENTS",
    "EXAMPLE_WORDS",
    "EXAMPLE_WORD_LABELS",
    "IGNORE_INDEX",
    "LABEL_NAMES",
    "REFERENCES",
    "TITLE",
    "bert_style_tokenizer",
    "byte_level_bpe_pipeline",
    "demo_alignment_strip",
    "demo_bert_normalizer_deletes_invisible_characters",
    "demo_collator_pads_labels_with_minus_100",
    "demo_labels_from_offsets",
    "demo_labels_from_word_ids",
    "demo_loss_ignores_minus_100",
    "demo_model_loss_skips_ignored_tokens",
    "demo_offsets_and_word_ids",
    "demo_offsets_rule_breaks",
    "demo_offsets_rule_on_byte_level_bpe",
    "demo_pre_split_words_on_byte_level_bpe",
    "demo_word_ids_on_plain_text",
    "labels_from_offsets",
    "labels_from_word_ids",
    "labels_on_every_sub_token",
    "roberta_style_tokenizer",
    "train_byte_level_bpe",
]

ENVIRONMENTS = {
    # transformers 4.57's fast byte-level BPE classes refused pre-split words without the option.
    "demo_pre_split_words_on_byte_level_bpe": ("default", "transformers-4.57"),
}
"""Where snippets run besides the default environment (see the site's Environment page)."""

TITLE: str = "Aligning word labels to sub-tokens: offsets, word_ids() and -100"

REFERENCES: tuple[Reference, ...] = (
    Reference(
        "https://huggingface.co/transformers/v4.2.2/custom_datasets.html#:~:text=For%20each%20sub%2Dtoken%20returned,its%20corresponding%20label%20to%20%2D100%20.",
        "Fine-tuning with custom datasets (transformers v4.2.2): token classification with W-NUT",
        "The original offsets-based recipe for giving word labels to sub-tokens with -100; "
        "an old version, today's guide uses word_ids() instead.",
        "huggingface tokenizer offsets",
    ),
)

IGNORE_INDEX = -100
"""The label that ``torch.nn.CrossEntropyLoss`` skips by default (its ``ignore_index``)."""

LABEL_NAMES = ("O", "B-ORG", "I-ORG")
"""A tiny tag set: outside any entity, beginning and inside of an organisation name."""

EXAMPLE_WORDS = ["Hugging", "Face", "tokenizers", "split", "sub-word", "pieces"]
"""A pre-split sentence whose words become one, two, three or four tokens."""

EXAMPLE_WORD_LABELS = [1, 2, 0, 0, 0, 0]
"""One label per word of ``EXAMPLE_WORDS``: "Hugging Face" is an organisation."""


@cache
def bert_style_tokenizer() -> BertTokenizer:
    """Return the repository's WordPiece tokenizer wrapped as a transformers ``BertTokenizer``.

    Cached, because several snippets share it; it is never mutated.

    Examples:
        >>> bert_style_tokenizer().tokenize("Hugging Face")
        ['hu', '##g', '##ging', 'f', '##ace']
    """
    # One class under two names in transformers 5; in 4.x only the fast one takes the object.
    from transformers import BertTokenizerFast

    return BertTokenizerFast(tokenizer_object=train_demo_tokenizer())


@cache
def train_byte_level_bpe(
    vocab_size: int = 400,
) -> tuple[dict[str, int], tuple[tuple[str, str], ...]]:
    """Train a GPT-2/RoBERTa-style byte-level BPE on the repository's corpus.

    Args:
        vocab_size: Size of the vocabulary, the five RoBERTa special tokens included.

    Returns:
        The vocabulary and the merges, in the form the transformers BPE tokenizer classes accept.

    Examples:
        >>> vocab, merges = train_byte_level_bpe()
        >>> len(vocab), vocab["<pad>"], merges[0]
        (400, 0, ('Ġ', 't'))
    """
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=["<pad>", "<unk>", "<s>", "</s>", "<mask>"],
        # Start from all 256 byte symbols so that no input can ever be out of vocabulary.
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    bpe.train_from_iterator(read_corpus(), trainer)
    model = json.loads(bpe.to_str())["model"]
    return model["vocab"], tuple(tuple(pair) for pair in model["merges"])


def roberta_style_tokenizer(
    trim_offsets: bool = True, add_prefix_space: bool = True
) -> RobertaTokenizer:
    """Build a ``RobertaTokenizer`` from the locally trained byte-level BPE.

    Args:
        trim_offsets: Whether offsets leave out the leading space (``Ġ``) of a token.
        add_prefix_space: Whether the first word of a text (and, with ``is_split_into_words=True``,
            every word) is tokenized as if a space preceded it, like the words inside a sentence.
            See ``demo_pre_split_words_on_byte_level_bpe`` for why pre-split input wants it.

    Returns:
        A fast RoBERTa-style tokenizer: ``<s> A </s></s> B </s>``, no token type ids.

    Examples:
        >>> roberta_style_tokenizer().tokenize("split words", add_special_tokens=False)
        ['Ġs', 'p', 'l', 'it', 'Ġw', 'or', 'ds']
    """
    import transformers

    vocab, merges = train_byte_level_bpe()
    if transformers_major() < 5:
        # transformers 4.x: the Python class wants files, so wrap the Rust pipeline instead.
        return transformers.RobertaTokenizerFast(
            tokenizer_object=byte_level_bpe_pipeline(vocab, merges, trim_offsets, add_prefix_space),
            add_prefix_space=add_prefix_space,
            trim_offsets=trim_offsets,
        )
    return transformers.RobertaTokenizer(
        vocab=dict(vocab),
        merges=list(merges),
        add_prefix_space=add_prefix_space,
        trim_offsets=trim_offsets,
    )


def byte_level_bpe_pipeline(
    vocab: dict[str, int],
    merges: tuple[tuple[str, str], ...],
    trim_offsets: bool = True,
    add_prefix_space: bool = True,
) -> Tokenizer:
    """The RoBERTa pipeline around a trained byte-level BPE, as a ``tokenizers.Tokenizer``.

    transformers 5 builds this itself from a vocabulary and merges; the 4.x fast classes are
    given it whole (``tokenizer_object=``).

    Examples:
        >>> vocab, merges = train_byte_level_bpe()
        >>> byte_level_bpe_pipeline(vocab, merges).encode("split words").tokens
        ['<s>', 'Ġs', 'p', 'l', 'it', 'Ġw', 'or', 'ds', '</s>']
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors

    pipeline = Tokenizer(models.BPE(dict(vocab), list(merges)))
    pipeline.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=add_prefix_space)
    pipeline.decoder = decoders.ByteLevel()
    pipeline.post_processor = processors.RobertaProcessing(
        ("</s>", vocab["</s>"]),
        ("<s>", vocab["<s>"]),
        trim_offsets=trim_offsets,
        add_prefix_space=add_prefix_space,
    )
    return pipeline


def labels_from_offsets(offsets: list[tuple[int, int]], word_labels: list[int]) -> list[int]:
    """Give word labels to tokens with the offsets rule of the v4.2.2 tutorial.

    A token whose offsets start at 0 and end after 0 is taken as the first token of a word and
    receives the next word label; every other token gets ``-100``. Kept as the tutorial wrote it
    (a NumPy boolean mask), so it fails the same way the tutorial does.

    Args:
        offsets: The ``offset_mapping`` of ONE encoding made with ``is_split_into_words=True``.
        word_labels: One label per input word.

    Returns:
        One label per token.

    Raises:
        ValueError: When the number of word starts found differs from the number of labels.

    Examples:
        >>> labels_from_offsets([(0, 0), (0, 3), (3, 5), (0, 2), (0, 0)], [7, 8])
        [-100, 7, -100, 8, -100]
    """
    import numpy as np

    spans = np.array(offsets)
    token_labels = np.full(len(offsets), IGNORE_INDEX)
    token_labels[(spans[:, 0] == 0) & (spans[:, 1] != 0)] = word_labels
    return token_labels.tolist()


def labels_from_word_ids(word_ids: list[int | None], word_labels: list[int]) -> list[int]:
    """Give word labels to tokens with ``word_ids()``, as the current transformers guide does.

    Args:
        word_ids: The ``word_ids()`` of ONE encoding (``None`` marks special tokens).
        word_labels: One label per input word.

    Returns:
        One label per token: the word's label on its first token, ``-100`` elsewhere.

    Examples:
        >>> labels_from_word_ids([None, 0, 0, 1, None], [7, 8])
        [-100, 7, -100, 8, -100]
    """
    token_labels = []
    previous = None
    for word_id in word_ids:
        if word_id is None or word_id == previous:  # special token, or not a word's first token
            token_labels.append(IGNORE_INDEX)
        else:
            token_labels.append(word_labels[word_id])
        previous = word_id
    return token_labels


def labels_on_every_sub_token(word_ids: list[int | None], word_labels: list[int]) -> list[int]:
    """Give every sub-token its word's label, as ``run_ner.py --label_all_tokens`` does.

    The first token of a word gets the word's label; the word's other tokens get it too, with
    a ``B-`` label turned into the matching ``I-`` one (``LABEL_NAMES``: ``B-ORG`` -> ``I-ORG``),
    since they continue the entity rather than begin it. Special tokens still get ``-100``.

    Args:
        word_ids: The ``word_ids()`` of ONE encoding (``None`` marks special tokens).
        word_labels: One label per input word, indices into ``LABEL_NAMES``.

    Returns:
        One label per token.

    Examples:
        >>> labels_on_every_sub_token([None, 0, 0, 1, None], [1, 0])
        [-100, 1, 2, 0, -100]
    """
    inside = {
        LABEL_NAMES.index(name): LABEL_NAMES.index("I-" + name[2:])
        for name in LABEL_NAMES
        if name.startswith("B-")
    }
    token_labels = []
    previous = None
    for word_id in word_ids:
        if word_id is None:
            token_labels.append(IGNORE_INDEX)
        elif word_id == previous:  # a continuation piece: inside the word's entity
            label = word_labels[word_id]
            token_labels.append(inside.get(label, label))
        else:
            token_labels.append(word_labels[word_id])
        previous = word_id
    return token_labels


def demo_offsets_and_word_ids() -> None:
    """Show what offsets and word ids look like for a sentence that is already split into words.

    With ``is_split_into_words=True`` each word's offsets restart at 0, which is what the old
    offsets rule relies on; a plain string gives offsets into the whole string instead, and
    they point at the characters as written, capitals included, although the tokens are
    lowercased.

    Examples:
        >>> demo_offsets_and_word_ids()
        pre-split: 6 spans start at 0, the plain string: 1
        The same sentence as a list of words and as one string
        words=["Hugging", "Face", ...], is_split_into_words=True
        #   token      special  span     word id
        0   [CLS]      yes      [0, 0)   None
        1   hu                  [0, 2)   0
        2   ##g                 [2, 3)   0
        3   ##ging              [3, 7)   0
        4   f                   [0, 1)   1
        5   ##ace               [1, 4)   1
        6   tokenizer           [0, 9)   2
        7   ##s                 [9, 10)  2
        8   split               [0, 5)   3
        9   sub                 [0, 3)   4
        10  -                   [3, 4)   4
        11  word                [4, 8)   4
        12  pieces              [0, 6)   5
        13  [SEP]      yes      [0, 0)   None
        <BLANKLINE>
        text="Hugging Face tokenizers split sub-word pieces"
        #   token      special  span      text       word id
        0   [CLS]      yes      [0, 0)    ''         None
        1   hu                  [0, 2)    Hu         0
        2   ##g                 [2, 3)    g          0
        3   ##ging              [3, 7)    ging       0
        4   f                   [8, 9)    F          1
        5   ##ace               [9, 12)   ace        1
        6   tokenizer           [13, 22)  tokenizer  2
        7   ##s                 [22, 23)  s          2
        8   split               [24, 29)  split      3
        9   sub                 [30, 33)  sub        4
        10  -                   [33, 34)  -          5
        11  word                [34, 38)  word       6
        12  pieces              [39, 45)  pieces     7
        13  [SEP]      yes      [0, 0)    ''         None
    """
    from refkit.engine.display import show
    from refkit.engine.views import side_by_side, token_strip

    tokenizer = bert_style_tokenizer()
    options = {"return_offsets_mapping": True, "return_special_tokens_mask": True}
    words = tokenizer(EXAMPLE_WORDS, is_split_into_words=True, **options)
    # The same words joined into one string: offsets now count from the start of the sentence.
    text = " ".join(EXAMPLE_WORDS)
    plain = tokenizer(text, **options)
    starts = [
        sum(start == 0 and end > 0 for start, end in encoding["offset_mapping"])
        for encoding in (words, plain)
    ]
    print(f"pre-split: {starts[0]} spans start at 0, the plain string: {starts[1]}")
    strips = [
        token_strip(
            encoding.tokens(),
            offsets=encoding["offset_mapping"],
            word_ids=encoding.word_ids(),
            special=encoding["special_tokens_mask"],
            text=covered,
            title=title,
        )
        for encoding, covered, title in (
            (words, None, 'words=["Hugging", "Face", ...], is_split_into_words=True'),
            (plain, text, f'text="{text}"'),
        )
    ]
    show(side_by_side(*strips), caption="The same sentence as a list of words and as one string")


def demo_labels_from_offsets() -> None:
    """Label the first token of each word through its offsets, as the v4.2.2 tutorial did.

    Tokens starting at offset 0 (and not empty) open a word; all others get ``-100``.

    Examples:
        >>> demo_labels_from_offsets()
        [CLS]:-100 hu:1 ##g:-100 ##ging:-100 f:2 ##ace:-100 tokenizer:0 ##s:-100
        split:0 sub:0 -:-100 word:-100 pieces:0 [SEP]:-100
    """
    encoding = bert_style_tokenizer()(
        EXAMPLE_WORDS, is_split_into_words=True, return_offsets_mapping=True
    )
    labels = labels_from_offsets(encoding["offset_mapping"], EXAMPLE_WORD_LABELS)
    pairs = [f"{token}:{label}" for token, label in zip(encoding.tokens(), labels, strict=True)]
    print(" ".join(pairs[:8]))
    print(" ".join(pairs[8:]))


def demo_labels_from_word_ids() -> None:
    """Label the first token of each word through ``word_ids()``, and compare with offsets.

    This is today's recipe: no character arithmetic, the tokenizer says which word each token
    came from. On this input both rules agree token for token.

    Examples:
        >>> demo_labels_from_word_ids()
        word ids: [None, 0, 0, 0, 1, 1, 2, 2, 3, 4, 4, 4, 5, None]
        labels:   [-100, 1, -100, -100, 2, -100, 0, -100, 0, 0, -100, -100, 0, -100]
        same labels as the offsets rule: True
    """
    encoding = bert_style_tokenizer()(
        EXAMPLE_WORDS, is_split_into_words=True, return_offsets_mapping=True
    )
    by_word_ids = labels_from_word_ids(encoding.word_ids(), EXAMPLE_WORD_LABELS)
    by_offsets = labels_from_offsets(encoding["offset_mapping"], EXAMPLE_WORD_LABELS)
    print(f"word ids: {encoding.word_ids()}")
    print(f"labels:   {by_word_ids}")
    print(f"same labels as the offsets rule: {by_word_ids == by_offsets}")


def demo_alignment_strip() -> None:
    """Show the tokens of one pre-split sentence with their spans, word ids and both label rules.

    One cell per token: its per-word character span, its word id, and the label it gets under
    each rule. "First sub-token" is the rule of this page (and of the transformers guide):
    continuation pieces get ``-100``. "Every sub-token" is ``run_ner.py --label_all_tokens``:
    they carry the word's label, ``B-ORG`` turned into ``I-ORG``. Special tokens get ``-100``
    under both rules, so the loss sees 6 positions under the first and 12 under the second.

    Examples:
        >>> demo_alignment_strip()
        positions in the loss: first sub-token 6, every sub-token 12 (of 14 tokens)
        "Hugging Face tokenizers split sub-word pieces", split into 6 words
        #   token      special  span     word id  first sub-token  every sub-token
        0   [CLS]      yes      [0, 0)   None     -100             -100
        1   hu                  [0, 2)   0        B-ORG            B-ORG
        2   ##g                 [2, 3)   0        -100             I-ORG
        3   ##ging              [3, 7)   0        -100             I-ORG
        4   f                   [0, 1)   1        I-ORG            I-ORG
        5   ##ace               [1, 4)   1        -100             I-ORG
        6   tokenizer           [0, 9)   2        O                O
        7   ##s                 [9, 10)  2        -100             O
        8   split               [0, 5)   3        O                O
        9   sub                 [0, 3)   4        O                O
        10  -                   [3, 4)   4        -100             O
        11  word                [4, 8)   4        -100             O
        12  pieces              [0, 6)   5        O                O
        13  [SEP]      yes      [0, 0)   None     -100             -100
    """
    from refkit.engine.display import show
    from refkit.engine.views import token_strip

    encoding = bert_style_tokenizer()(
        EXAMPLE_WORDS,
        is_split_into_words=True,
        return_offsets_mapping=True,
        return_special_tokens_mask=True,
    )
    word_ids = encoding.word_ids()
    rules = {
        "first sub-token": labels_from_word_ids(word_ids, EXAMPLE_WORD_LABELS),
        "every sub-token": labels_on_every_sub_token(word_ids, EXAMPLE_WORD_LABELS),
    }
    kept = {name: sum(label != IGNORE_INDEX for label in labels) for name, labels in rules.items()}
    print(
        f"positions in the loss: first sub-token {kept['first sub-token']}, "
        f"every sub-token {kept['every sub-token']} (of {len(word_ids)} tokens)"
    )
    strip = token_strip(
        encoding.tokens(),
        offsets=encoding["offset_mapping"],  # per word: is_split_into_words=True
        word_ids=word_ids,
        # Label names for reading; -100 stays a number (the strip dims it).
        labels={
            name: [label if label == IGNORE_INDEX else LABEL_NAMES[label] for label in labels]
            for name, labels in rules.items()
        },
        special=encoding["special_tokens_mask"],
    )
    show(strip, caption=f'"{" ".join(EXAMPLE_WORDS)}", split into {len(EXAMPLE_WORDS)} words')


def demo_offsets_rule_breaks() -> None:
    """Show two ordinary inputs on which the offsets rule raises and ``word_ids()`` copes.

    A word that normalizes to nothing (here a lone combining accent, which the normalizer strips)
    produces no token; truncation drops the last words. Either way the offsets rule finds fewer
    word starts than labels.

    Examples:
        >>> demo_offsets_rule_breaks()
        vanishing word: offsets rule -> ValueError (3 labels, 2 word starts)
        vanishing word: word_ids rule -> [-100, 1, -100, -100, 0, -100]
        truncation: offsets rule -> ValueError (6 labels, 2 word starts)
        truncation: word_ids rule -> [-100, 1, -100, -100, 2, -100, -100]
        NumPy's message: NumPy boolean array indexing assignment cannot assign 6 input values \
to the 2 output values where the mask is true
    """
    tokenizer = bert_style_tokenizer()
    cases = {
        # "\u0301" is a combining acute accent: NFD + StripAccents leave nothing of this word.
        "vanishing word": (["Hugging", "\u0301", "words"], [1, 0, 0], {}),
        "truncation": (EXAMPLE_WORDS, EXAMPLE_WORD_LABELS, {"truncation": True, "max_length": 7}),
    }
    message = ""
    for case, (words, word_labels, options) in cases.items():
        encoding = tokenizer(
            words, is_split_into_words=True, return_offsets_mapping=True, **options
        )
        word_starts = sum(start == 0 and end > 0 for start, end in encoding["offset_mapping"])
        try:
            result = str(labels_from_offsets(encoding["offset_mapping"], word_labels))
        except ValueError as error:
            result = f"ValueError ({len(word_labels)} labels, {word_starts} word starts)"
            message = str(error)
        print(f"{case}: offsets rule -> {result}")
        print(f"{case}: word_ids rule -> {labels_from_word_ids(encoding.word_ids(), word_labels)}")
    print(f"NumPy's message: {message}")  # the last one: the one users report (issue #11652)


def demo_bert_normalizer_deletes_invisible_characters() -> None:
    """Show that BERT's own normalizer deletes zero-width and control characters.

    ``tokenizers.normalizers.BertNormalizer``, the normalizer of the original BERT tokenizers,
    removes control characters and invisible format characters by default (``clean_text=True``).
    A word made only of such a character then yields no token, like the lone accent of
    ``demo_offsets_rule_breaks``. The WordPiece tokenizer of this topic normally uses
    NFD + Lowercase + StripAccents; here it gets a ``BertNormalizer`` instead.

    Examples:
        >>> demo_bert_normalizer_deletes_invisible_characters()
        'a' + U+200B (zero-width space) + 'b' -> 'ab'
        'a' + U+0007 (control character BEL) + 'b' -> 'ab'
        word ids of ['Hugging', U+200B, 'words']: [None, 0, 0, 0, 2, None]
        offsets rule -> ValueError (3 labels, 2 word starts)
        word_ids rule -> [-100, 1, -100, -100, 0, -100]
    """
    from tokenizers import normalizers

    normalizer = normalizers.BertNormalizer()
    invisible = {"\u200b": "zero-width space", "\x07": "control character BEL"}
    for character, name in invisible.items():
        normalized = normalizer.normalize_str(f"a{character}b")
        print(f"'a' + U+{ord(character):04X} ({name}) + 'b' -> {normalized!r}")

    tokenizer = train_demo_tokenizer()
    tokenizer.normalizer = normalizers.BertNormalizer(lowercase=True)
    words, word_labels = ["Hugging", "\u200b", "words"], [1, 0, 0]
    encoding = tokenizer.encode(words, is_pretokenized=True)
    print(f"word ids of ['Hugging', U+200B, 'words']: {encoding.word_ids}")
    word_starts = sum(start == 0 and end > 0 for start, end in encoding.offsets)
    try:
        print(f"offsets rule -> {labels_from_offsets(encoding.offsets, word_labels)}")
    except ValueError:
        print(f"offsets rule -> ValueError ({len(word_labels)} labels, {word_starts} word starts)")
    print(f"word_ids rule -> {labels_from_word_ids(encoding.word_ids, word_labels)}")


def demo_offsets_rule_on_byte_level_bpe() -> None:
    """Apply both rules to a RoBERTa-style byte-level BPE tokenizer trained locally.

    Here the first word starts with a bare space token ``Ġ``. With ``trim_offsets=True`` its
    offsets are ``(0, 0)``, so the offsets rule silently labels the next token instead; with
    ``trim_offsets=False`` two tokens start at 0 and the rule raises. ``word_ids()`` is unaffected.

    Examples:
        >>> demo_offsets_rule_on_byte_level_bpe()
        tokens:        ['<s>', 'Ġ', 'T', 'oken', 'izer', 's', 'Ġs', 'p', 'l', 'it', '</s>']
        offsets:       [(0, 0), (0, 0), (0, 1), (1, 5), (5, 9), (9, 10), (0, 1), (1, 2), ...]
        word_ids rule: [-100, 1, -100, -100, -100, -100, 0, -100, -100, -100, -100]
        offsets rule:  [-100, -100, 1, -100, -100, -100, 0, -100, -100, -100, -100]
        offsets rule, trim_offsets=False: ValueError
    """
    words, word_labels = ["Tokenizers", "split"], [1, 0]
    encoding = roberta_style_tokenizer()(
        words, is_split_into_words=True, return_offsets_mapping=True
    )
    print(f"tokens:        {encoding.tokens()}")
    print(f"offsets:       {str(encoding['offset_mapping'][:8])[:-1]}, ...]")
    print(f"word_ids rule: {labels_from_word_ids(encoding.word_ids(), word_labels)}")
    print(f"offsets rule:  {labels_from_offsets(encoding['offset_mapping'], word_labels)}")
    untrimmed = roberta_style_tokenizer(trim_offsets=False)(
        words, is_split_into_words=True, return_offsets_mapping=True
    )
    try:
        labels_from_offsets(untrimmed["offset_mapping"], word_labels)
    except ValueError:
        print("offsets rule, trim_offsets=False: ValueError")


def demo_word_ids_on_plain_text() -> None:
    """Show that on a plain string ``word_ids()`` numbers the tokenizer's words, not yours.

    Without ``is_split_into_words=True`` the word ids come from the tokenizer's pre-tokenizer,
    which cuts at punctuation: the hyphen of ``sub-word`` makes three "words", and per-word labels
    no longer line up. Passing the list of words keeps one word id per word you labelled.

    Examples:
        >>> demo_word_ids_on_plain_text()
        words you labelled: 6
        plain string: [None, 0, 0, 0, 1, 1, 2, 2, 3, 4, 5, 6, 7, None] -> 8 words
        word list:    [None, 0, 0, 0, 1, 1, 2, 2, 3, 4, 4, 4, 5, None] -> 6 words
    """
    tokenizer = bert_style_tokenizer()
    print(f"words you labelled: {len(EXAMPLE_WORDS)}")
    encodings = {
        "plain string": tokenizer(" ".join(EXAMPLE_WORDS)),
        "word list": tokenizer(EXAMPLE_WORDS, is_split_into_words=True),
    }
    for name, encoding in encodings.items():
        word_ids = encoding.word_ids()
        words = len({word_id for word_id in word_ids if word_id is not None})
        print(f"{name + ':':<13} {word_ids} -> {words} words")


def demo_pre_split_words_on_byte_level_bpe() -> None:
    """Show what ``add_prefix_space`` changes for pre-split words on a byte-level BPE tokenizer.

    Byte-level BPE (RoBERTa, GPT-2) folds the space before a word into its first token (``Ġw``).
    Pre-split words carry no spaces, so without ``add_prefix_space=True`` every word is tokenized
    as if it began the text, into tokens the same word never gets inside a sentence. The fast
    classes of transformers 4 refused such input outright (the Python class added the space
    itself); transformers 5 accepts it silently, although the class's docstring still says the
    option is needed.

    Examples:
        >>> demo_pre_split_words_on_byte_level_bpe()
        in a sentence:                     ['Ġs', 'p', 'l', 'it', 'Ġw', 'or', 'ds']
        pre-split, add_prefix_space=False: no error; ['s', 'p', 'l', 'it', 'w', 'or', 'ds']
        pre-split, add_prefix_space=True:  ['Ġs', 'p', 'l', 'it', 'Ġw', 'or', 'ds']
    """
    words = ["split", "words"]
    with_prefix = roberta_style_tokenizer(add_prefix_space=True)
    sentence = with_prefix(" ".join(words), add_special_tokens=False)
    print(f"{'in a sentence:':<35}{sentence.tokens()}")
    for add_prefix_space in (False, True):
        tokenizer = roberta_style_tokenizer(add_prefix_space=add_prefix_space)
        label = f"pre-split, add_prefix_space={add_prefix_space}:"
        try:
            encoding = tokenizer(words, is_split_into_words=True, add_special_tokens=False)
        except Exception as error:  # what transformers 4 did: refuse the input
            print(f"{label:<35}{type(error).__name__}: {error}")
            continue
        outcome = "no error; " if not add_prefix_space else ""
        print(f"{label:<35}{outcome}{encoding.tokens()}")
    if transformers_major() < 5:
        # 4.x also had a Python class, which did not refuse: it put a space before each word.
        import transformers

        vocab, merges = train_byte_level_bpe()
        with tempfile.TemporaryDirectory(prefix="refkit-bpe-") as folder:
            vocab_file, merges_file = Path(folder, "vocab.json"), Path(folder, "merges.txt")
            vocab_file.write_text(json.dumps(vocab), encoding="utf-8")
            merges_file.write_text("".join(f"{a} {b}\n" for a, b in merges), encoding="utf-8")
            slow = transformers.RobertaTokenizer(str(vocab_file), str(merges_file))
        ids = slow(words, is_split_into_words=True, add_special_tokens=False)["input_ids"]
        label = f"{type(slow).__name__}, pre-split, add_prefix_space={slow.add_prefix_space}:"
        print(f"{label}\n{'':<35}{slow.convert_ids_to_tokens(ids)}")


def demo_loss_ignores_minus_100() -> None:
    """Check that ``CrossEntropyLoss`` ignores ``-100`` labels and averages over the rest.

    Scrambling the logits at ignored positions leaves the loss unchanged, and the loss equals the
    plain mean over the kept positions (not over all positions).

    Examples:
        >>> demo_loss_ignores_minus_100()
        default ignore_index: -100
        positions: 14, kept: 6
        loss: 0.8769
        unchanged after scrambling ignored logits: True
        equals mean over kept positions only: True
        dividing by all 14 positions would give: 0.3758
    """
    import torch

    seed_everything()
    device = get_device()
    encoding = bert_style_tokenizer()(EXAMPLE_WORDS, is_split_into_words=True)
    labels = torch.tensor(labels_from_word_ids(encoding.word_ids(), EXAMPLE_WORD_LABELS))
    labels = labels.to(device)
    # Drawn on the CPU so the numbers are the same whatever the device.
    logits = torch.randn(len(labels), len(LABEL_NAMES)).to(device)
    loss_fn = torch.nn.CrossEntropyLoss()
    loss = loss_fn(logits, labels)

    ignored = labels == IGNORE_INDEX
    scrambled = logits.clone()
    scrambled[ignored] = 100 * torch.randn(int(ignored.sum()), len(LABEL_NAMES)).to(device)
    kept_losses = torch.nn.functional.cross_entropy(
        logits[~ignored], labels[~ignored], reduction="none"
    )
    unchanged = torch.allclose(loss, loss_fn(scrambled, labels))

    print(f"default ignore_index: {loss_fn.ignore_index}")
    print(f"positions: {len(labels)}, kept: {int((~ignored).sum())}")
    print(f"loss: {loss.item():.4f}")
    print(f"unchanged after scrambling ignored logits: {unchanged}")
    print(f"equals mean over kept positions only: {torch.allclose(loss, kept_losses.mean())}")
    print(
        f"dividing by all {len(labels)} positions would give: "
        f"{kept_losses.sum().item() / len(labels):.4f}"
    )


def demo_model_loss_skips_ignored_tokens() -> None:
    """Show that a token-classification model's built-in loss skips the ``-100`` positions.

    ``BertForTokenClassification`` computes ``CrossEntropyLoss`` with the default
    ``ignore_index``, so passing the aligned labels is all a training loop needs.

    Examples:
        >>> demo_model_loss_skips_ignored_tokens()
        model loss equals cross entropy over the 6 labelled tokens: True
    """
    import torch
    from transformers import BertConfig, BertForTokenClassification

    seed_everything()
    device = get_device()
    tokenizer = bert_style_tokenizer()
    config = BertConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        num_labels=len(LABEL_NAMES),
    )
    model = BertForTokenClassification(config).to(device).eval()
    inputs = tokenizer(EXAMPLE_WORDS, is_split_into_words=True, return_tensors="pt")
    labels = torch.tensor([labels_from_word_ids(inputs.word_ids(), EXAMPLE_WORD_LABELS)])
    inputs, labels = inputs.to(device), labels.to(device)
    with torch.no_grad():
        output = model(**inputs, labels=labels)
    kept = labels[0] != IGNORE_INDEX
    by_hand = torch.nn.functional.cross_entropy(output.logits[0][kept], labels[0][kept])
    print(
        f"model loss equals cross entropy over the {int(kept.sum())} labelled tokens: "
        f"{torch.allclose(output.loss, by_hand, atol=1e-6)}"
    )


def demo_collator_pads_labels_with_minus_100() -> None:
    """Show that ``DataCollatorForTokenClassification`` pads labels with ``-100``.

    Padding positions must not count in the loss either, so the collator uses the same label.

    Examples:
        >>> demo_collator_pads_labels_with_minus_100()
        label_pad_token_id: -100
        [-100, 1, -100, -100, 2, -100, -100]
        [-100, 0, -100, -100, -100, -100, -100]
    """
    from transformers import DataCollatorForTokenClassification

    tokenizer = bert_style_tokenizer()
    features = []
    for words, word_labels in [(["Hugging", "Face"], [1, 2]), (["words"], [0])]:
        encoding = tokenizer(words, is_split_into_words=True)
        features.append(
            {
                "input_ids": encoding["input_ids"],
                "labels": labels_from_word_ids(encoding.word_ids(), word_labels),
            }
        )
    collator = DataCollatorForTokenClassification(tokenizer)
    batch = collator(features)
    print(f"label_pad_token_id: {collator.label_pad_token_id}")
    for row in batch["labels"].tolist():
        print(row)
