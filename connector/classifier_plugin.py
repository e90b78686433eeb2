"""A team's own nature classifier, plugged in through a Python entry point.

A package declares, in its ``pyproject.toml``::

    [project.entry-points."ventanilla.classifiers"]
    our-model = "our_package.triage:classify"

and the configuration names it (``triage.classifier: our-model``). The callable gets the
text and its language and returns one of the natures (or None to keep ours). Safety is
never missed: when our lexicon sees safety, safety stays whatever the plug-in says.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from importlib.metadata import entry_points
from typing import cast

from connector.lexicon import NATURES

GROUP = "ventanilla.classifiers"
Classifier = Callable[[str, str], str | None]


class ClassifierError(Exception):
    """The configured classifier cannot be found or loaded."""


@lru_cache(maxsize=8)
def load_classifier(name: str) -> Classifier:
    """Load the entry point ``name`` of group ``ventanilla.classifiers`` (once per process)."""
    found = [ep for ep in entry_points(group=GROUP) if ep.name == name]
    if not found:
        known = sorted(ep.name for ep in entry_points(group=GROUP))
        raise ClassifierError(
            f"no classifier {name!r} in entry point group {GROUP!r}"
            + (f"; installed: {', '.join(known)}" if known else "; none is installed")
        )
    try:
        loaded = found[0].load()
    except Exception as exc:  # an import error in someone else's package
        raise ClassifierError(f"classifier {name!r} failed to load: {type(exc).__name__}: {exc}") from None
    if not callable(loaded):
        raise ClassifierError(f"classifier {name!r} is not callable")
    return cast(Classifier, loaded)


def plugin_nature(name: str, text: str, language: str, ours: str) -> str:
    """The plug-in's nature for ``text``, with ours kept for safety and for unusable answers."""
    if ours == "safety":
        return ours
    answer = load_classifier(name)(text, language)
    return answer if isinstance(answer, str) and answer in NATURES else ours
