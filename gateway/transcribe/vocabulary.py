"""Domain vocabulary (insurance terms) as a Whisper prompt or hotwords, read from TOML.

The file (`gateway/vocabulary.toml` by default) has one table:

```toml
[vocabulary]
enabled = false          # default on/off (measured: keep only if it lowers CER)
mode = "prompt"          # "prompt" (initial prompt) or "hotwords"
prompt = "以下是保险销售面谈的录音。"
terms = ["犹豫期", "保险责任", "责任免除", "退保", "现金价值"]
```
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from gateway.transcribe.errors import TranscribeError

__all__ = ["DEFAULT_VOCABULARY", "Vocabulary", "VocabularyError", "load_vocabulary"]

DEFAULT_VOCABULARY = Path(__file__).resolve().parent.parent / "vocabulary.toml"
_MODES = ("prompt", "hotwords")


class VocabularyError(TranscribeError):
    """The vocabulary file is missing or malformed."""


@dataclass(frozen=True)
class Vocabulary:
    terms: tuple[str, ...] = ()
    prompt: str = ""
    mode: str = "prompt"
    """`prompt`: initial prompt = prompt + terms; `hotwords`: terms as hotwords."""
    enabled: bool = False
    source: str | None = None
    """File the vocabulary came from."""

    @property
    def initial_prompt(self) -> str | None:
        if not self.enabled or self.mode != "prompt" or not (self.terms or self.prompt):
            return None
        return (self.prompt + "、".join(self.terms) + ("。" if self.terms else "")).strip()

    @property
    def hotwords(self) -> str | None:
        if not self.enabled or self.mode != "hotwords" or not self.terms:
            return None
        return " ".join(self.terms)

    def with_enabled(self, enabled: bool) -> Vocabulary:
        return Vocabulary(self.terms, self.prompt, self.mode, enabled, self.source)

    def describe(self) -> dict[str, object]:
        return {"enabled": self.enabled, "mode": self.mode, "source": self.source,
                "terms": list(self.terms), "prompt": self.prompt}


def load_vocabulary(path: Path | str | None = None) -> Vocabulary:
    """Read a vocabulary TOML file (the bundled one by default)."""
    path = Path(path) if path else DEFAULT_VOCABULARY
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise VocabularyError(f"vocabulary file {path}: {exc.strerror}", path) from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise VocabularyError(f"vocabulary file {path} is not valid TOML: {exc}", path) from None
    table = data.get("vocabulary")
    if not isinstance(table, dict):
        raise VocabularyError(f"vocabulary file {path} has no [vocabulary] table", path)
    terms = table.get("terms", [])
    if not isinstance(terms, list) or not all(isinstance(t, str) and t.strip() for t in terms):
        raise VocabularyError(f"vocabulary file {path}: terms must be a list of words", path)
    mode = table.get("mode", "prompt")
    if mode not in _MODES:
        raise VocabularyError(f"vocabulary file {path}: mode must be one of {_MODES}", path)
    return Vocabulary(tuple(t.strip() for t in terms), str(table.get("prompt", "")), mode,
                      bool(table.get("enabled", False)), str(path))
