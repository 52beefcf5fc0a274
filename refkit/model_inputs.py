"""What a tokenizer hands the model: ``input_ids``, ``attention_mask`` and ``token_type_ids``.

Calling a transformers tokenizer on a batch returns a dictionary of equally shaped arrays:

* ``input_ids``: the vocabulary index of every token. These are *sub-word* tokens, not words,
  and the list also holds the special tokens the post-processor adds (``[CLS]``, ``[SEP]``) and
  the ``[PAD]`` ids that make every row of a batch as long as the longest one.
* ``attention_mask``: ``1`` for a real token, ``0`` for padding. Inside the model it removes the
  padding positions from every attention softmax, so the real tokens of a padded row come out
  exactly as if the row had been run alone. Without it the real tokens attend to ``[PAD]`` and
  their outputs change (``demo_attention_mask_hides_padding``,
  ``demo_attention_mask_keeps_outputs_unchanged``). The mask does not stop the model
  from computing *something* at padding positions: those outputs are meaningless and must be left
  out of losses and pooling (for token classification that is what the ``-100`` label does, see
  the ``offset_alignment`` topic).
* ``token_type_ids`` (also called segment ids): ``0`` for the tokens of the first text of a pair,
  ``1`` for the second. The model adds a learned *segment embedding* to each token's embedding,
  so it can tell the two texts apart. Padding gets type ``0``.

Whether ``token_type_ids`` appear at all depends on the tokenizer class: it returns them when
``"token_type_ids"`` is in its ``model_input_names``. In transformers 5 the BERT tokenizer does;
the RoBERTa, GPT-2 and DistilBERT tokenizers do not, even on a pair
(``demo_which_tokenizers_return_token_type_ids``). DistilBERT is the clearest case: its
tokenizer is BERT's WordPiece, but the model has no segment embeddings at all.

What the original notes got right, and what needs nuance:

* "Input IDs are simply mappings between tokens and their IDs": right, with the detail that the
  tokens are sub-words and the ids include special and padding tokens (``demo_padded_pair_batch``).
* "The attention mask is to prevent the model from looking at padding tokens": right. With the
  mask the real tokens give the padding exactly zero attention
  (``demo_attention_mask_hides_padding``) and a padded row matches the same pair run alone;
  without it, it does not, while an unpadded row is the same either way
  (``demo_attention_mask_keeps_outputs_unchanged``). The padding positions' own outputs stay
  meaningless, mask or not.
* "The token type IDs are used typically in next sentence prediction tasks, where two sentences
  are given": too narrow. Next sentence prediction was one of BERT's two *pre-training* tasks,
  and it is where the segment embeddings were first trained, but the ids are produced whenever a
  BERT-style tokenizer encodes a pair and are read by every head of the model (question
  answering, sentence-pair classification such as NLI or paraphrase detection, multiple choice),
  not only the NSP head. ELECTRA kept them without any NSP task; RoBERTa dropped NSP, its
  released checkpoints have a single token type, and its tokenizer returns no token type ids
  (``demo_token_type_ids_are_segment_embeddings``,
  ``demo_which_tokenizers_return_token_type_ids``).
"""

from __future__ import annotations

import inspect
import tempfile
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from refkit.engine.device import get_device, seed_everything
from refkit.engine.references import Reference
from refkit.offset_alignment import (
    byte_level_bpe_pipeline,
    roberta_style_tokenizer,
    train_byte_level_bpe,
)
from refkit.train_tokenizer import save_demo_tokenizer, train_demo_tokenizer, transformers_major

if TYPE_CHECKING:
    from transformers import BertModel, PreTrainedTokenizerBase

__all__ = [
    "ENVIRONMENTS",
    "PAIRS",
    "REFERENCES",
    "TITLE",
    "demo_attention_mask_hides_padding",
    "demo_attention_mask_keeps_outputs_unchanged",
    "demo_padded_pair_batch",
    "demo_token_type_ids_are_segment_embeddings",
    "demo_which_tokenizers_return_token_type_ids",
    "loaded_demo_tokenizer",
    "tiny_bert",
]

ENVIRONMENTS = {
    # Which classes return token_type_ids, in 4.x and now.
    "demo_which_tokenizers_return_token_type_ids": ("default", "transformers-4.57"),
}
"""Where snippets run besides the default environment (see the site's Environment page)."""

TITLE: str = "Model inputs: input_ids, attention_mask and token_type_ids"

REFERENCES: tuple[Reference, ...] = (
    Reference(
        "https://jaketae.github.io/category/common-sense/#:~:text=Input%20IDs%20are%20obvious%3A%20these,where%20two%20sentences%20are%20given.",
        "Jake Tae's blog, 'Common Sense' category: BERT inputs explained in passing",
        "A short plain-language description of input IDs, the attention mask and token type "
        "IDs; its link between token type IDs and next sentence prediction is too narrow.",
        None,
    ),
)

PAIRS = [
    ("Short pair.", "Padded."),
    ("A tokenizer turns text into ids.", "The model reads ids."),
]
"""Two sentence pairs of different lengths, so the first row of a batch needs padding."""


@cache
def loaded_demo_tokenizer() -> PreTrainedTokenizerBase:
    """Return the repository's WordPiece tokenizer, saved and loaded back with ``AutoTokenizer``.

    This is the path a real project takes (``from_pretrained`` on a folder), without the Hub.
    Cached because several snippets share it; it is never mutated.

    Examples:
        >>> type(loaded_demo_tokenizer()).__name__
        'BertTokenizer'
    """
    from transformers import AutoTokenizer

    with tempfile.TemporaryDirectory(prefix="refkit-inputs-") as folder:
        return AutoTokenizer.from_pretrained(save_demo_tokenizer(Path(folder)))


def tiny_bert() -> BertModel:
    """Build a randomly initialised two-layer BERT (hidden size 32) in eval mode on the device.

    Eval mode switches dropout off, so two forward passes can be compared number for number.

    Examples:
        >>> model = tiny_bert()
        >>> model.config.hidden_size, model.config.num_hidden_layers, model.training
        (32, 2, False)
    """
    from transformers import BertConfig, BertModel

    seed_everything()
    config = BertConfig(
        vocab_size=len(loaded_demo_tokenizer()),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        # The plain PyTorch attention, the one that can hand back its weights (output_attentions).
        attn_implementation="eager",
    )
    # Initialised on the CPU, then moved, so the weights are the same on every device.
    return BertModel(config).to(get_device()).eval()


def demo_padded_pair_batch() -> None:
    """Tokenize a batch of two sentence pairs with padding and show the three arrays.

    The shorter row is padded with ``[PAD]`` (id 0) and mask 0; the second text of each pair
    gets token type 1; the ids map one-to-one back to the tokens.

    Examples:
        >>> demo_padded_pair_batch()
        keys: ['input_ids', 'token_type_ids', 'attention_mask']
        row 0 tokens: [CLS] sh ##or ##t pair . [SEP] pa ##d ##d ##ed . [SEP] [PAD] [PAD] [PAD]
          input_ids:      [2, 311, 68, 53, 208, 7, 3, 126, 38, 38, 91, 7, 3, 0, 0, 0]
        row 1 tokens: [CLS] a tokenizer turns text into ids . [SEP] the model read ##s ids . [SEP]
          input_ids:      [2, 9, 122, 275, 142, 152, 139, 7, 3, 61, 207, 380, 52, 139, 7, 3]
        token_type_ids and attention_mask of a padded batch of two sentence pairs, one line per position
        row 0
                  token_type_ids  attention_mask
        0 [CLS]                0               1
        1 sh                   0               1
        2 ##or                 0               1
        3 ##t                  0               1
        4 pair                 0               1
        5 .                    0               1
        6 [SEP]                0               1
        7 pa                   1               1
        8 ##d                  1               1
        9 ##d                  1               1
        10 ##ed                1               1
        11 .                   1               1
        12 [SEP]               1               1
        13 [PAD]               0               0
        14 [PAD]               0               0
        15 [PAD]               0               0
        <BLANKLINE>
        row 1
                     token_type_ids  attention_mask
        0 [CLS]                   0               1
        1 a                       0               1
        2 tokenizer               0               1
        3 turns                   0               1
        4 text                    0               1
        5 into                    0               1
        6 ids                     0               1
        7 .                       0               1
        8 [SEP]                   0               1
        9 the                     1               1
        10 model                  1               1
        11 read                   1               1
        12 ##s                    1               1
        13 ids                    1               1
        14 .                      1               1
        15 [SEP]                  1               1
    """
    from refkit.engine.display import show
    from refkit.engine.views import matrix_view, side_by_side

    tokenizer = loaded_demo_tokenizer()
    firsts, seconds = zip(*PAIRS, strict=True)
    batch = tokenizer(list(firsts), list(seconds), padding=True)
    print(f"keys: {list(batch.keys())}")
    views = []
    for row, ids in enumerate(batch["input_ids"]):
        tokens = tokenizer.convert_ids_to_tokens(ids)
        print(f"row {row} tokens: {' '.join(tokens)}")
        print(f"  {'input_ids:':<16}{ids}")
        keys = ("token_type_ids", "attention_mask")
        views.append(
            matrix_view(
                # One line per position, so the two rows of the batch fit next to each other.
                list(zip(*(batch[key][row] for key in keys), strict=True)),
                row_labels=[f"{position} {token}" for position, token in enumerate(tokens)],
                col_labels=keys,
                title=f"row {row}",
            )
        )
    show(
        side_by_side(*views),
        caption="token_type_ids and attention_mask of a padded batch of two sentence pairs, "
        "one line per position",
    )


def _padded_batch_and_alone() -> tuple[dict, dict]:
    """Return the padded batch of ``PAIRS`` and the first (padded) pair alone, on the device."""
    tokenizer, device = loaded_demo_tokenizer(), get_device()
    firsts, seconds = zip(*PAIRS, strict=True)
    batch = tokenizer(list(firsts), list(seconds), padding=True, return_tensors="pt")
    alone = tokenizer(*PAIRS[0], return_tensors="pt")
    return dict(batch.to(device)), dict(alone.to(device))


def demo_attention_mask_hides_padding() -> None:
    """Measure how much attention the real tokens of a padded row pay to its ``[PAD]`` tokens.

    With the mask the padding gets exactly zero attention, in every layer; without it, this
    untrained model spreads attention almost evenly, so 3 padding tokens out of 16 get about
    3/16 of it.

    Examples:
        >>> demo_attention_mask_hides_padding()
        share of attention from the 13 real tokens to the 3 [PAD] tokens, layer 0 and layer 1:
          with attention_mask:    0.0000  0.0000
          without attention_mask: 0.1874  0.1874
        Attention weights of the padded row, layer 0 (mean of its heads): one row per query token, one column per key token; each row sums to 1
        axes 'with attention_mask' x: 'key token' y: 'query token'
          image 16x16:
            0.08 0.08 0.08 0.08 0.08 0.08 0.08 0.08 0.08 0.08 0.08 0.08 0.08 0 0 0
            0.08 0.08 0.08 0.08 0.08 0.08 0.08 0.08 0.08 0.08 0.08 0.08 0.08 0 0 0
            0.08 0.08 0.08 0.08 0.08 0.08 0.08 0.08 0.08 0.08 0.08 0.08 0.08 0 0 0
            0.08 0.08 0.08 0.08 0.08 0.08 0.08 0.08 0.08 0.08 0.08 0.08 0.08 0 0 0
            0.08 0.08 0.08 0.08 0.08 0.08 0.08 0.08 0.08 0.08 0.08 0.08 0.08 0 0 0
            0.08 0.08 0.08 0.08 0.08 0.08 0.08 0.08 0.08 0.08 0.08 0.08 0.08 0 0 0
            0.08 0.08 0.08 0.08 0.08 0.08 0.08 0.08 0.08 0.08 0.08 0.08 0.08 0 0 0
            0.08 0.08 0.08 0.08 0.08 0.08 0.08 0.08 0.08 0.08 0.08 0.08 0.08 0 0 0
            0.08 0.08 0.08 0.08 0.08 0.08 0.08 0.08 0.08 0.08 0.08 0.08 0.08 0 0 0
            0.08 0.08 0.08 0.08 0.08 0.08 0.08 0.08 0.08 0.08 0.08 0.08 0.08 0 0 0
            0.08 0.08 0.08 0.08 0.08 0.08 0.08 0.08 0.08 0.08 0.08 0.08 0.08 0 0 0
            0.08 0.08 0.08 0.08 0.08 0.08 0.08 0.08 0.08 0.08 0.08 0.08 0.08 0 0 0
            0.08 0.08 0.08 0.08 0.08 0.08 0.08 0.08 0.08 0.08 0.08 0.08 0.08 0 0 0
            0.08 0.08 0.08 0.08 0.08 0.08 0.08 0.08 0.08 0.08 0.08 0.08 0.08 0 0 0
            0.08 0.08 0.08 0.08 0.08 0.08 0.08 0.08 0.08 0.08 0.08 0.08 0.08 0 0 0
            0.08 0.08 0.08 0.08 0.08 0.08 0.08 0.08 0.08 0.08 0.08 0.08 0.08 0 0 0
        axes 'without attention_mask' x: 'key token'
          image 16x16:
            0.06 0.06 0.06 0.06 0.06 0.06 0.06 0.06 0.06 0.06 0.06 0.06 0.06 0.06 0.06 0.06
            0.06 0.06 0.06 0.06 0.06 0.06 0.06 0.06 0.06 0.06 0.06 0.06 0.06 0.06 0.06 0.06
            0.06 0.06 0.06 0.06 0.06 0.06 0.06 0.06 0.06 0.06 0.06 0.06 0.06 0.06 0.06 0.06
            0.06 0.06 0.06 0.06 0.06 0.06 0.06 0.06 0.06 0.06 0.06 0.06 0.06 0.06 0.06 0.06
            0.06 0.06 0.06 0.06 0.06 0.06 0.06 0.06 0.06 0.06 0.06 0.06 0.06 0.06 0.06 0.06
            0.06 0.06 0.06 0.06 0.06 0.06 0.06 0.06 0.06 0.06 0.06 0.06 0.06 0.06 0.06 0.06
            0.06 0.06 0.06 0.06 0.06 0.06 0.06 0.06 0.06 0.06 0.06 0.06 0.06 0.06 0.06 0.06
            0.06 0.06 0.06 0.06 0.06 0.06 0.06 0.06 0.06 0.06 0.06 0.06 0.06 0.06 0.06 0.06
            0.06 0.06 0.06 0.06 0.06 0.06 0.06 0.06 0.06 0.06 0.06 0.06 0.06 0.06 0.06 0.06
            0.06 0.06 0.06 0.06 0.06 0.06 0.06 0.06 0.06 0.06 0.06 0.06 0.06 0.06 0.06 0.06
            0.06 0.06 0.06 0.06 0.06 0.06 0.06 0.06 0.06 0.06 0.06 0.06 0.06 0.06 0.06 0.06
            0.06 0.06 0.06 0.06 0.06 0.06 0.06 0.06 0.06 0.06 0.06 0.06 0.06 0.06 0.06 0.06
            0.06 0.06 0.06 0.06 0.06 0.06 0.06 0.06 0.06 0.06 0.06 0.06 0.06 0.06 0.06 0.06
            0.06 0.06 0.06 0.06 0.06 0.06 0.06 0.06 0.06 0.06 0.06 0.06 0.06 0.06 0.06 0.06
            0.06 0.06 0.06 0.06 0.06 0.06 0.06 0.06 0.06 0.06 0.06 0.06 0.06 0.06 0.06 0.06
            0.06 0.06 0.06 0.06 0.06 0.06 0.06 0.06 0.06 0.06 0.06 0.06 0.06 0.06 0.06 0.06
        axes y: 'attention weight'
    """
    import torch
    from matplotlib.figure import Figure

    from refkit.engine.display import show

    model = tiny_bert()
    batch, _ = _padded_batch_and_alone()
    unmasked = {key: value for key, value in batch.items() if key != "attention_mask"}
    is_pad = batch["attention_mask"][0] == 0
    layers = model.config.num_hidden_layers
    print(
        f"share of attention from the {int((~is_pad).sum())} real tokens "
        f"to the {int(is_pad.sum())} [PAD] tokens, "
        + " and ".join(f"layer {layer}" for layer in range(layers))
        + ":"
    )
    layer_0 = {}  # the weights of row 0 in layer 0, averaged over heads: the picture below
    for label, inputs in (("with attention_mask:", batch), ("without attention_mask:", unmasked)):
        with torch.no_grad():
            attentions = model(**inputs, output_attentions=True).attentions
        shares = []
        for layer_attention in attentions:
            weights = layer_attention[0]  # row 0 of the batch: weights[head, query, key]
            # Sum over the padding keys, average over heads and real queries.
            shares.append(weights[:, ~is_pad][:, :, is_pad].sum(dim=-1).mean().item())
        print(f"  {label:<24}" + "  ".join(f"{share:.4f}" for share in shares))
        layer_0[label.rstrip(":")] = attentions[0][0].mean(dim=0).cpu()

    tokens = loaded_demo_tokenizer().convert_ids_to_tokens(batch["input_ids"][0].tolist())
    top = max(float(weights.max().round(decimals=2)) for weights in layer_0.values())
    figure = Figure(figsize=(6, 3.4), layout="constrained")
    panels = figure.subplots(1, 2, sharey=True)
    for axes, (label, weights) in zip(panels, layer_0.items(), strict=True):
        # Rounded, so the picture does not flicker with the last bits of the device's arithmetic.
        image = axes.imshow(weights.numpy().round(2), cmap="viridis", vmin=0.0, vmax=top)
        axes.set(title=label, xlabel="key token")
        axes.set_xticks(range(len(tokens)), tokens, rotation=90, fontsize=6)
        axes.set_yticks(range(len(tokens)), tokens, fontsize=6)
    panels[0].set_ylabel("query token")
    figure.colorbar(image, ax=panels, label="attention weight", shrink=0.7)
    show(
        figure,
        caption="Attention weights of the padded row, layer 0 (mean of its heads): one row per "
        "query token, one column per key token; each row sums to 1",
    )


def demo_attention_mask_keeps_outputs_unchanged() -> None:
    """Compare a padded row's outputs with the same pair run alone, with and without the mask.

    With ``attention_mask`` the real tokens of the padded row match the unpadded run; without it
    they change. The gap is small here only because an untrained model attends almost evenly;
    any gap above float noise means the padding leaked in. A row with no padding is unaffected.
    "Same" allows 1e-4: a GPU may run the padded and unpadded batches through different
    attention kernels, whose rounding differs far below that.

    The model still computes vectors at the padding positions, mask or not: they are ordinary,
    non-zero outputs that mean nothing.

    Examples:
        >>> demo_attention_mask_keeps_outputs_unchanged()
        padded row vs. same pair alone, max |difference| over its 13 real tokens:
          with attention_mask:    0.000 -> same outputs: True
          without attention_mask: 0.005 -> same outputs: False
        unpadded row, with vs. without the mask, same outputs: True
        outputs at the 3 [PAD] positions, with the mask: computed, all non-zero: True
    """
    import torch

    model = tiny_bert()
    batch, alone = _padded_batch_and_alone()
    unmasked = {key: value for key, value in batch.items() if key != "attention_mask"}
    n_real = alone["input_ids"].shape[1]
    with torch.no_grad():
        reference = model(**alone).last_hidden_state[0]
        with_mask = model(**batch).last_hidden_state
        without_mask = model(**unmasked).last_hidden_state

    print(f"padded row vs. same pair alone, max |difference| over its {n_real} real tokens:")
    for label, outputs in (
        ("with attention_mask:", with_mask),
        ("without attention_mask:", without_mask),
    ):
        real_part = outputs[0, :n_real]
        gap = (real_part - reference).abs().max().item()
        same = torch.allclose(real_part, reference, atol=1e-4)
        print(f"  {label:<24}{gap:.3f} -> same outputs: {same}")
    same = torch.allclose(with_mask[1], without_mask[1], atol=1e-4)
    print(f"unpadded row, with vs. without the mask, same outputs: {same}")
    at_padding = with_mask[0, n_real:]
    nonzero = bool((at_padding.abs().sum(dim=-1) > 0).all())
    print(
        f"outputs at the {at_padding.shape[0]} [PAD] positions, with the mask: "
        f"computed, all non-zero: {nonzero}"
    )


def demo_token_type_ids_are_segment_embeddings() -> None:
    """Show that token type ids select a learned segment embedding read by every BERT head.

    They are not specific to next sentence prediction: every BERT task head takes them, ELECTRA
    (pre-trained without NSP) has them, and DistilBERT's model has no place for them.

    The embedding layer adds three looked-up vectors (word, position, segment) and normalizes
    the sum; leaving ``token_type_ids`` out is the same as passing all zeros, so a pair encoded
    without them reads as one segment.

    Examples:
        >>> demo_token_type_ids_are_segment_embeddings()
        segment embedding table: 2 types x 32 dims
        embeddings = LayerNorm(word + position + segment embedding): True
        outputs change when the second text is typed 0 instead of 1: True
        no token_type_ids passed = all zeros passed: True
        BertForNextSentencePrediction takes token_type_ids: True
        BertForQuestionAnswering takes token_type_ids: True
        BertForSequenceClassification takes token_type_ids: True
        BertForMultipleChoice takes token_type_ids: True
        ElectraModel takes token_type_ids: True
        DistilBertModel takes token_type_ids: False
    """
    import torch
    import transformers

    tokenizer, model = loaded_demo_tokenizer(), tiny_bert()
    table = model.embeddings.token_type_embeddings
    print(f"segment embedding table: {table.num_embeddings} types x {table.embedding_dim} dims")

    pair = tokenizer(*PAIRS[1], return_tensors="pt").to(get_device())
    embeddings = model.embeddings
    positions = torch.arange(pair["input_ids"].shape[1], device=get_device()).unsqueeze(0)
    with torch.no_grad():
        summed = (
            embeddings.word_embeddings(pair["input_ids"])
            + embeddings.position_embeddings(positions)
            + table(pair["token_type_ids"])
        )
        same_sum = torch.allclose(
            embeddings(input_ids=pair["input_ids"], token_type_ids=pair["token_type_ids"]),
            embeddings.LayerNorm(summed),  # eval mode: the dropout after it does nothing
            atol=1e-5,
        )
    print(f"embeddings = LayerNorm(word + position + segment embedding): {same_sum}")

    one_segment = {**pair, "token_type_ids": torch.zeros_like(pair["token_type_ids"])}
    without = {key: value for key, value in pair.items() if key != "token_type_ids"}
    with torch.no_grad():
        two_segments_out = model(**pair).last_hidden_state
        one_segment_out = model(**one_segment).last_hidden_state
        without_out = model(**without).last_hidden_state
    changed = not torch.allclose(two_segments_out, one_segment_out, atol=1e-5)
    print(f"outputs change when the second text is typed 0 instead of 1: {changed}")
    same = torch.allclose(without_out, one_segment_out, atol=1e-5)
    print(f"no token_type_ids passed = all zeros passed: {same}")

    for name in (
        "BertForNextSentencePrediction",
        "BertForQuestionAnswering",
        "BertForSequenceClassification",
        "BertForMultipleChoice",
        "ElectraModel",
        "DistilBertModel",
    ):
        forward = getattr(transformers, name).forward
        takes_them = "token_type_ids" in inspect.signature(forward).parameters
        print(f"{name} takes token_type_ids: {takes_them}")


def demo_which_tokenizers_return_token_type_ids() -> None:
    """Encode the same pair with four tokenizer classes built locally and list what comes back.

    ``model_input_names`` decides. DistilBERT wraps the very same WordPiece pipeline as BERT yet
    returns no token type ids; RoBERTa and GPT-2 style byte-level BPE tokenizers return none
    either, and forcing them out of RoBERTa gives only zeros.

    Examples:
        >>> demo_which_tokenizers_return_token_type_ids()
        BertTokenizer: ['input_ids', 'token_type_ids', 'attention_mask']
        DistilBertTokenizer: ['input_ids', 'attention_mask']
        RobertaTokenizer: ['input_ids', 'attention_mask']
        GPT2Tokenizer: ['input_ids', 'attention_mask']
        RoBERTa with return_token_type_ids=True, distinct values: [0]
        default for a class that names none: ['input_ids', 'attention_mask']
    """
    import transformers

    vocab, merges = train_byte_level_bpe()
    roberta = roberta_style_tokenizer()
    if transformers_major() < 5:
        # The 4.x Python class wants files: wrap the Rust pipeline in the fast class instead.
        gpt2 = transformers.GPT2TokenizerFast(tokenizer_object=byte_level_bpe_pipeline(vocab, merges))
    else:
        gpt2 = transformers.GPT2Tokenizer(vocab=dict(vocab), merges=list(merges))
    tokenizers = [
        loaded_demo_tokenizer(),
        # One class under two names in transformers 5; in 4.x only the fast one takes the object.
        transformers.DistilBertTokenizerFast(tokenizer_object=train_demo_tokenizer()),
        roberta,
        gpt2,
    ]
    for tokenizer in tokenizers:
        # The keys of an actual pair encoding; they follow tokenizer.model_input_names.
        print(f"{type(tokenizer).__name__}: {list(tokenizer(*PAIRS[0]).keys())}")
    forced = roberta(*PAIRS[0], return_token_type_ids=True)["token_type_ids"]
    print(f"RoBERTa with return_token_type_ids=True, distinct values: {sorted(set(forced))}")
    # What a class that sets no model_input_names of its own inherits: changed in v5.
    default = transformers.PreTrainedTokenizerBase.model_input_names
    print(f"default for a class that names none: {default}")
