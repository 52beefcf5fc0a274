"""refkit: machine-learning notes backed by code that runs.

Importing the package is cheap on purpose: it pulls in neither torch nor transformers, because
the MkDocs process imports it to find snippets without running them. Each topic module imports
what it demonstrates.
"""

__version__ = "0.1.0"
__all__ = ["__version__"]
