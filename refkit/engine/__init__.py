"""The machinery behind refkit, kept apart from the topic modules it runs.

- for topic authors: :mod:`~refkit.engine.device` (where tensors go, seeds) and
  :mod:`~refkit.engine.references` (the ``Reference`` record);
- the pure core, which imports no host: :mod:`~refkit.engine.settings` (every option, once),
  :mod:`~refkit.engine.project` (the site's configuration file),
  :mod:`~refkit.engine.session` (one build from settings to outcome),
  :mod:`~refkit.engine.assemble` (pages put together), :mod:`~refkit.engine.discovery` (find
  snippets by reading source), :mod:`~refkit.engine.directive` (the Markdown directive),
  :mod:`~refkit.engine.runner`, :mod:`~refkit.engine.messages` and
  :mod:`~refkit.engine.worker` (isolated execution), :mod:`~refkit.engine.cache`,
  :mod:`~refkit.engine.render`, :mod:`~refkit.engine.drift` (approved outputs),
  :mod:`~refkit.engine.links` (reference link checks);
- the thin front doors: :mod:`~refkit.engine.plugin` (MkDocs),
  :mod:`~refkit.engine.extension` (Python-Markdown, so Zensical) and
  :mod:`~refkit.engine.cli` (the ``refkit`` command).

Nothing here imports torch or transformers at import time; only the worker's forked children do.
"""
