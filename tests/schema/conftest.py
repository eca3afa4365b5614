"""Make the checkout importable when reactor is not installed into the venv."""

import importlib.util
import sys
from pathlib import Path

if importlib.util.find_spec("reactor") is None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
