"""``No module named 'keras.engine'`` from ``TFRobertaModel``: where it came from, what fixes it.

The error is a ``ModuleNotFoundError`` (a subclass of ``ImportError``) raised while Python
*imports code*. Nothing about model weights is involved: it happens before any file of a
checkpoint is opened.

Why it happened
---------------
``keras.engine`` was a private part of Keras 2. The TensorFlow classes of transformers 4.x
(``TFRobertaModel`` and every other ``TF...`` class) were built on Keras, and releases up to
4.29 imported ``keras.engine.data_adapter`` and ``keras.engine.keras_tensor`` straight from it
(``src/transformers/modeling_tf_utils.py`` lines 68-72 at v4.29.2). Keras then moved those
internals away from the name ``keras.engine``: Keras 2.13 (the one TensorFlow 2.13 requires)
hid them under ``keras.src.engine``, Keras 2.14 and 2.15 kept that layout (the released wheels
have ``keras/engine/`` in 2.12.0 and only ``keras/src/engine/`` in 2.13.1 to 2.15.0), and Keras
3, which TensorFlow requires from version 2.16 on, is a rewrite with no such module at all. Any
code that still said ``from keras.engine import ...`` then failed with exactly the message of
the notes; the lazy importer of transformers 4.29 wraps it in a ``RuntimeError`` ("Failed to
import transformers.models.roberta.modeling_tf_roberta because of the following error ...").

The fixes that held while TensorFlow support existed in transformers 4.x:

* for ``No module named 'keras.engine'`` (transformers <= 4.29 with TensorFlow >= 2.13):
  upgrade to transformers >= 4.30 (pull request huggingface/transformers#23663, June 2023,
  which imports ``keras.src.engine`` from TensorFlow 2.13 on), or pin ``tensorflow<2.13``.
  ``tensorflow<2.16`` is *not* enough: 2.13 to 2.15 break the same way
  (keras-team/keras#18141);
* for "Your currently installed version of Keras is Keras 3 ... install ... tf-keras"
  (transformers >= 4.38 with TensorFlow >= 2.16): install the ``tf-keras`` package (Keras 2
  kept alive under the name ``tf_keras``), which transformers 4.38 imports itself and which
  4.39 and later also select for ``tf.keras`` by setting ``TF_USE_LEGACY_KERAS=1``; or pin
  ``tensorflow<2.16``;
* or switch to the PyTorch classes (``RobertaModel`` instead of ``TFRobertaModel``).

Each of these setups runs in an environment of its own (``demo_tf_roberta_here``, declared in
``ENVIRONMENTS`` for one environment per setup): transformers 4.29.2 on TensorFlow 2.13.1 and
on 2.16.2 fails with the notes' message, 4.30.2 on 2.13.1 and 4.29.2 on 2.12.1 build and run a
``TFRobertaModel``, and 4.38.2 on TensorFlow 2.16.2 refuses Keras 3 until ``tf-keras`` is
installed.

What holds today
----------------
transformers 5 removed TensorFlow and Flax/JAX support from the library entirely. With the
installed transformers there is no ``TFRobertaModel`` to import whatever TensorFlow or Keras
version is present, and none of the Keras fixes above can bring it back. The fix that holds is the
last one: use the PyTorch class. If a project really needs TensorFlow, it has to pin
``transformers<5`` together with one of the Keras fixes above.

What the original notes got wrong
---------------------------------
* "No module named 'keras.engine'": the right symptom, and it is an import failure. A
  ``ModuleNotFoundError`` names the module Python could not find; in this environment
  (``demo_keras_engine_is_an_import_error``) ``keras`` itself is not installed, so Python reports
  ``No module named 'keras'``, and a ``keras`` package without an ``engine`` subpackage (the
  Keras >= 2.13 situation) reproduces the notes' message word for word.
* "Due to most latest version of tensorflow": right as far as it goes. The cause is the Keras
  that newer TensorFlow brings with it (internals moved in 2.13, Keras 3 the default from 2.16),
  not TensorFlow's own code, and the pin that avoids it is ``tensorflow<2.13``, not
  ``tensorflow<2.16``. Outdated today: transformers 5 has no TensorFlow classes at all
  (``demo_tf_classes_are_gone``; pull request huggingface/transformers#38758).
* "downloaded the tf_model.h5 and saved in current directory, but does work": read literally,
  wrong; most likely "does not work" was meant, and that is the expected outcome. A weights file
  cannot fix an import error: an import looks for Python modules, never for checkpoint files.
  With a ``tf_model.h5`` in the current directory the import fails exactly as before, and the
  PyTorch classes of transformers 5 do not read ``tf_model.h5`` either, even with
  ``from_tf=True`` (``demo_weights_file_does_not_fix_import``).
* The fix that works now is the PyTorch path, shown end to end with a tiny model
  (``demo_pytorch_roberta``).
"""

from __future__ import annotations

import importlib.util
import os
import sys
import tempfile
import types
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING
from unittest import mock

from refkit.engine.device import get_device, seed_everything
from refkit.engine.references import Reference

if TYPE_CHECKING:
    from transformers import RobertaConfig

__all__ = [
    "ENVIRONMENTS",
    "REFERENCES",
    "TITLE",
    "demo_keras_engine_is_an_import_error",
    "demo_pytorch_roberta",
    "demo_tf_classes_are_gone",
    "demo_tf_roberta_here",
    "demo_weights_file_does_not_fix_import",
    "installed_version",
    "progress_bars_off",
    "tiny_roberta_config",
]

ENVIRONMENTS = {
    "demo_tf_classes_are_gone": ("default", "transformers-4.57"),
    # The notes' setup, each fix, Keras 3 with and without tf-keras, and 4.57 without TensorFlow.
    "demo_tf_roberta_here": (
        "default",
        "legacy-tf",
        "fixed-tf",
        "tf-2.12",
        "legacy-keras-3",
        "keras-3",
        "tf-keras",
        "transformers-4.57",
    ),
}
"""Where snippets run besides the default environment (see the site's Environment page)."""

TITLE: str = "No module named 'keras.engine' with TFRobertaModel"

# The notes give no link for this topic.
REFERENCES: tuple[Reference, ...] = ()


def tiny_roberta_config() -> RobertaConfig:
    """Return a RoBERTa configuration small enough to build and run in milliseconds.

    Returns:
        A ``transformers.RobertaConfig`` with hidden size 32, 2 layers and 2 heads.

    Examples:
        >>> config = tiny_roberta_config()
        >>> config.hidden_size, config.num_hidden_layers, config.vocab_size
        (32, 2, 64)
    """
    from transformers import RobertaConfig

    # RoBERTa numbers positions from pad_token_id + 1, so max_position_embeddings must exceed
    # the longest sequence by at least 2.
    return RobertaConfig(
        vocab_size=64,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=34,
    )


@contextmanager
def progress_bars_off() -> Iterator[None]:
    """Silence transformers' tqdm bars (which print timings) inside the block, then restore them.

    Examples:
        >>> from transformers.utils import logging as hf_logging
        >>> before = hf_logging.is_progress_bar_enabled()
        >>> with progress_bars_off():
        ...     hf_logging.is_progress_bar_enabled()
        False
        >>> hf_logging.is_progress_bar_enabled() == before
        True
    """
    from transformers.utils import logging as hf_logging

    was_enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was_enabled:
            hf_logging.enable_progress_bar()


def demo_tf_classes_are_gone() -> None:
    """Ask the installed transformers whether it still has TensorFlow classes.

    transformers 5 removed TensorFlow and Flax support, so ``TFRobertaModel`` no longer exists
    and no Keras or TensorFlow fix can bring it back.

    Examples:
        >>> demo_tf_classes_are_gone()
        transformers major version: 5
        has TFRobertaModel: False
        public names starting with 'TF': 0
        public names starting with 'Flax': 0
        TF RoBERTa source file shipped: False
        has RobertaModel (PyTorch): True
        ImportError: cannot import name 'TFRobertaModel' from 'transformers'
    """
    import transformers

    print("transformers major version:", transformers.__version__.split(".")[0])
    print("has TFRobertaModel:", hasattr(transformers, "TFRobertaModel"))
    names = dir(transformers)  # every public name, lazily importable ones included
    print("public names starting with 'TF':", sum(name.startswith("TF") for name in names))
    print("public names starting with 'Flax':", sum(name.startswith("Flax") for name in names))
    tf_module = importlib.util.find_spec("transformers.models.roberta.modeling_tf_roberta")
    print("TF RoBERTa source file shipped:", tf_module is not None)
    print("has RobertaModel (PyTorch):", hasattr(transformers, "RobertaModel"))
    try:
        from transformers import TFRobertaModel  # noqa: F401
    except ImportError as err:
        # The message ends with the install path of transformers; keep only the stable part.
        print(f"{type(err).__name__}: {str(err).split(' (')[0]}")


def installed_version(distribution: str) -> str:
    """The installed version of a distribution, or ``"not installed"``; nothing is imported.

    Examples:
        >>> installed_version("no-such-distribution")
        'not installed'
    """
    from importlib import metadata

    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "not installed"


def _error_chain(error: BaseException | None) -> list[str]:
    """An error and each error it was raised from, outermost first, as lines to print.

    Blank lines are dropped, and so are install paths (they name the environment's folder) and
    the hint to look up the traceback, which a page cannot show.

    Examples:
        >>> try:
        ...     try:
        ...         import no_such_module_here
        ...     except ImportError as inner:
        ...         raise RuntimeError("Failed to import it (look up to see its traceback):") from inner
        ... except RuntimeError as outer:
        ...     print("\\n".join(_error_chain(outer)))
        RuntimeError: Failed to import it:
        raised from ModuleNotFoundError: No module named 'no_such_module_here'
    """
    lines: list[str] = []
    while error is not None:
        message = str(error).replace(" (look up to see its traceback)", "")
        parts = [line.split(" (/")[0].strip() for line in message.splitlines() if line.strip()]
        prefix = "raised from " if lines else ""
        lines.append(f"{prefix}{type(error).__name__}: {parts[0] if parts else ''}")
        lines.extend(f"    {part}" for part in parts[1:])
        error = error.__cause__ or error.__context__
    return lines


def demo_tf_roberta_here() -> None:
    """Import ``TFRobertaModel`` and run a tiny one, on whichever TensorFlow is installed.

    This one snippet runs in every environment of the page: the notes' setup (transformers 4.29
    on TensorFlow 2.13), each fix, Keras 3, transformers 4.57 without TensorFlow, and
    transformers 5. What it prints is what a user of that setup got.

    Examples:
        >>> demo_tf_roberta_here()
        tensorflow: not installed; keras: not installed; tf-keras: not installed
        from transformers import TFRobertaModel ->
          ImportError: cannot import name 'TFRobertaModel' from 'transformers'
    """
    versions = {name: installed_version(name) for name in ("tensorflow", "keras", "tf-keras")}
    print("; ".join(f"{name}: {version}" for name, version in versions.items()))
    try:
        from transformers import TFRobertaModel
    # transformers 4's lazy importer wraps what failed inside in a RuntimeError.
    except (ImportError, RuntimeError) as error:
        print("from transformers import TFRobertaModel ->")
        for line in _error_chain(error):
            print(f"  {line}")
        return
    print("from transformers import TFRobertaModel -> ok")
    try:
        with progress_bars_off():
            model = TFRobertaModel(tiny_roberta_config())
            import tensorflow as tf  # only now: without it, the line above says what is missing

            output = model(input_ids=tf.constant([[0, 5, 6, 7, 2]]))
    except Exception as error:  # the errors of these setups come from deep inside transformers
        print("TFRobertaModel(config) ->")
        for line in _error_chain(error):
            print(f"  {line}")
        return
    print("TFRobertaModel(config) -> last_hidden_state shape:", tuple(output.last_hidden_state.shape))


def demo_keras_engine_is_an_import_error() -> None:
    """Show that ``No module named 'keras.engine'`` is a ``ModuleNotFoundError`` from an import.

    First what this environment says (neither TensorFlow nor Keras is installed), then the notes'
    exact message, reproduced with a stand-in ``keras`` package that has no ``engine``
    subpackage, which is what Keras 2.13 and Keras 3 look like to old code.

    Examples:
        >>> demo_keras_engine_is_an_import_error()
        tensorflow installed: False
        keras installed: False
        tf_keras installed: False
        import keras.engine -> ModuleNotFoundError: No module named 'keras'
        with a keras that lacks engine -> ModuleNotFoundError: No module named 'keras.engine'
        missing module: keras.engine
        is an ImportError: True
    """
    for package in ("tensorflow", "keras", "tf_keras"):
        print(f"{package} installed:", importlib.util.find_spec(package) is not None)
    try:
        import keras.engine
    except ModuleNotFoundError as err:
        print(f"import keras.engine -> {type(err).__name__}: {err}")

    # An empty package called keras: importable, but with no engine inside. patch.dict puts
    # sys.modules back exactly as it was afterwards.
    keras_without_engine = types.ModuleType("keras")
    keras_without_engine.__path__ = []
    with mock.patch.dict(sys.modules, {"keras": keras_without_engine}):
        try:
            import keras.engine  # noqa: F401
        except ModuleNotFoundError as err:
            print(f"with a keras that lacks engine -> {type(err).__name__}: {err}")
            print("missing module:", err.name)
            print("is an ImportError:", isinstance(err, ImportError))


def demo_weights_file_does_not_fix_import() -> None:
    """Put a ``tf_model.h5`` in the current directory and watch the import fail all the same.

    An import looks for Python modules, never for checkpoint files, so downloading weights cannot
    cure ``No module named ...``. The PyTorch classes of transformers 5 do not read
    ``tf_model.h5`` either: they look for ``model.safetensors`` or ``pytorch_model.bin``.

    Examples:
        >>> demo_weights_file_does_not_fix_import()
        files in the current directory: ['config.json', 'tf_model.h5']
        import -> ImportError: cannot import name 'TFRobertaModel' from 'transformers'
        RobertaModel.from_pretrained(folder, from_tf=True) -> OSError:
        Error no file named model.safetensors, or pytorch_model.bin, found in directory <folder>.
    """
    from transformers import RobertaModel

    previous_cwd = Path.cwd()
    with tempfile.TemporaryDirectory() as folder:
        tiny_roberta_config().save_pretrained(folder)
        # Content does not matter: nothing below ever opens this file.
        (Path(folder) / "tf_model.h5").write_bytes(b"stand-in for downloaded TF weights")
        os.chdir(folder)
        try:
            print("files in the current directory:", sorted(p.name for p in Path().iterdir()))
            try:
                from transformers import TFRobertaModel  # noqa: F401
            except ImportError as err:
                message = str(err).split(" (")[0]
                print(f"import -> {type(err).__name__}: {message}")
            try:
                # transformers 5 silently drops from_tf=True: there is no TF loader left.
                RobertaModel.from_pretrained(folder, from_tf=True)
            except OSError as err:
                print("RobertaModel.from_pretrained(folder, from_tf=True) -> OSError:")
                print(str(err).replace(folder, "<folder>"))
        finally:
            os.chdir(previous_cwd)


def demo_pytorch_roberta() -> None:
    """Build, run, save and reload the PyTorch ``RobertaModel``: the replacement that works.

    Everything ``TFRobertaModel`` offered is available from the PyTorch class; a tiny config
    stands in for a pretrained checkpoint so nothing is downloaded.

    Examples:
        >>> demo_pytorch_roberta()
        input_ids shape: (2, 5)
        last_hidden_state shape: (2, 5, 32)
        pooler_output shape: (2, 32)
        saved files: ['config.json', 'model.safetensors']
        reloaded model gives the same output: True
    """
    import torch
    from transformers import RobertaModel

    seed_everything()
    device = get_device()
    model = RobertaModel(tiny_roberta_config()).to(device).eval()
    # Ids 0-2 are <s>, <pad>, </s> by RoBERTa convention; 5-9 are ordinary tokens.
    input_ids = torch.tensor([[0, 5, 6, 7, 2], [0, 8, 9, 2, 1]], device=device)
    attention_mask = (input_ids != model.config.pad_token_id).long()
    with torch.no_grad():
        output = model(input_ids=input_ids, attention_mask=attention_mask)
    print("input_ids shape:", tuple(input_ids.shape))
    print("last_hidden_state shape:", tuple(output.last_hidden_state.shape))
    print("pooler_output shape:", tuple(output.pooler_output.shape))

    # progress_bars_off keeps save/load progress bars, with their timings, out of the output.
    with tempfile.TemporaryDirectory() as folder, progress_bars_off():
        model.save_pretrained(folder)
        print("saved files:", sorted(p.name for p in Path(folder).iterdir()))
        reloaded = RobertaModel.from_pretrained(folder).to(device).eval()
        with torch.no_grad():
            again = reloaded(input_ids=input_ids, attention_mask=attention_mask)
    same = torch.allclose(output.last_hidden_state, again.last_hidden_state, atol=1e-6)
    print("reloaded model gives the same output:", same)
