"""The machinery behind refkit: device choice, reference data, and (later) runner, cache, plugin.

Nothing in this package imports torch or transformers at import time.
"""
