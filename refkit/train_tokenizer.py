"""Training a tokenizer locally.  (Topic module: the helper below is shared by other topics.)

TODO(topic 1): the full topic text, references and snippets are written by the topic author.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

CORPUS_PATH = Path(__file__).resolve().parent / "data" / "corpus.txt"
SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def read_corpus() -> list[str]:
    """Return the lines of the small training corpus kept in the repository."""
    return CORPUS_PATH.read_text(encoding="utf-8").splitlines()


def train_demo_tokenizer(vocab_size: int = 400) -> Tokenizer:
    """Train the BERT-style WordPiece tokenizer that several topics use, on the repo's corpus.

    Args:
        vocab_size: Size of the vocabulary to learn, special tokens included.

    Returns:
        A trained ``tokenizers.Tokenizer`` with normalizer, pre-tokenizer, WordPiece model,
        ``[CLS] A [SEP] B [SEP]`` post-processor and a WordPiece decoder.

    Examples:
        >>> tok = train_demo_tokenizer()
        >>> tok.encode("Tokenizers split words").tokens
        ['[CLS]', 'tokenizer', '##s', 'split', 'words', '[SEP]']
    """
    tokenizer = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.Sequence(
        [normalizers.NFD(), normalizers.Lowercase(), normalizers.StripAccents()]
    )
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    trainer = trainers.WordPieceTrainer(
        vocab_size=vocab_size, special_tokens=SPECIAL_TOKENS, show_progress=False
    )
    tokenizer.train_from_iterator(read_corpus(), trainer)
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

    The folder then holds ``tokenizer.json`` and ``tokenizer_config.json`` and loads with
    ``AutoTokenizer.from_pretrained(folder)`` without any network access.

    Args:
        folder: An existing, writable folder.

    Returns:
        The same folder, for chaining.
    """
    from transformers import BertTokenizer

    BertTokenizer(tokenizer_object=train_demo_tokenizer()).save_pretrained(str(folder))
    return folder


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
