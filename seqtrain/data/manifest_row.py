"""One line of a JSON-lines manifest, as every manifest reader in seqtrain parses it.

Audio datasets (`path`), noise and impulse-response lists (`path`) and `seqtrain lm` (`text`) read the same
kind of file; one parser gives them one wording of the two mistakes a hand-edited manifest has: a line that
is not a JSON object, and an object without the field the reader needs.
"""

from __future__ import annotations

import json
from typing import Any

from seqtrain.errors import DataError


def manifest_row(text: str, field: str, where: str, hint: str = "") -> dict[str, Any]:
    """The JSON object on one manifest line, with a string `field`; `where` names file and line for the error."""
    try:
        row = json.loads(text)
    except json.JSONDecodeError as e:
        raise DataError(f"{where}: not a JSON object ({e.msg}); a manifest has one object per line") from e
    if not isinstance(row, dict):
        raise DataError(f"{where}: not a JSON object but {type(row).__name__}; a manifest has one object per line")
    if not isinstance(row.get(field), str):
        raise DataError(f'{where}: needs a "{field}" string{hint}')
    return row
