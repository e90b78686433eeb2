"""Labelled lines for the nature model: read from JSON Lines files or folders of them.

The files are the ones ``ventanilla triage eval`` reads (the generic endpoint's body plus
``label``), so a team trains on exactly what it measures with. Each folder that holds
``.jsonl`` files is one *set* (usually one writer or one export); cross-validation leaves
one set out at a time, which says how the model does on a writer it has never read.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from connector.triage_batch import BatchInputError, read_records


@dataclass(frozen=True, slots=True)
class LabelledLine:
    set_name: str
    text: str
    language: str | None
    nature: str


@dataclass
class TrainingData:
    lines: list[LabelledLine] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)
    #: ``file:line: problem`` for lines that could not be read.
    errors: list[str] = field(default_factory=list)
    unlabelled: int = 0

    def examples(self) -> list[tuple[str, str]]:
        """``(text, nature)`` pairs, what :func:`connector.nature_model.train` takes."""
        return [(line.text, line.nature) for line in self.lines]


def labelled_files(paths: Iterable[Path], exclude: Sequence[str] = ()) -> list[Path]:
    """Every ``.jsonl`` file named or found under the folders, minus excluded folder names."""
    found: list[Path] = []
    for path in paths:
        candidates = sorted(path.rglob("*.jsonl")) if path.is_dir() else [path]
        found.extend(
            candidate
            for candidate in candidates
            if not any(part in exclude for part in candidate.relative_to(path).parent.parts)
        )
    return sorted(dict.fromkeys(found))


def read_training_data(paths: Iterable[Path], exclude: Sequence[str] = ()) -> TrainingData:
    """Read labelled lines; bad lines are reported, lines without ``label.nature`` counted."""
    data = TrainingData()
    for file in labelled_files(paths, exclude):
        data.files.append(file)
        for entry in read_records(file):
            if isinstance(entry, BatchInputError):
                data.errors.append(str(entry))
                continue
            nature = (entry.label or {}).get("nature")
            if not isinstance(nature, str):
                data.unlabelled += 1
                continue
            language = (entry.label or {}).get("language")
            data.lines.append(
                LabelledLine(
                    set_name=file.parent.name,
                    text=entry.interaction.text,
                    language=language if isinstance(language, str) else None,
                    nature=nature,
                )
            )
    return data
