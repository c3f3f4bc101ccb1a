"""RT-Cloud's attribute-style dictionaries: `cfg.runNum` for `cfg["runNum"]`."""

from __future__ import annotations

from typing import Any


class StructDict(dict):
    """A dict whose keys are also attributes; a missing key reads as None (RT-Cloud's
    scripts test `if cfg.imgDir is None`), and setting an attribute sets the key."""

    def __getattr__(self, key: str) -> Any:
        if key.startswith("__"):
            # Keep Python's protocols (pickling, copying) off the None default.
            raise AttributeError(key)
        return self.get(key)

    def __setattr__(self, key: str, value: Any) -> None:
        self[key] = value

    def __delattr__(self, key: str) -> None:
        self.pop(key, None)

    def copy(self) -> "StructDict":
        return StructDict(self)


def recurseCreateStructDict(value: Any) -> Any:
    """`value` with every dict in it (also inside lists) made a StructDict."""
    if isinstance(value, dict):
        return StructDict({k: recurseCreateStructDict(v) for k, v in value.items()})
    if isinstance(value, list):
        return [recurseCreateStructDict(v) for v in value]
    return value
