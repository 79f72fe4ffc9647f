"""Fast unit tests: no services. ``tests/reference_model.py`` is importable from here."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
