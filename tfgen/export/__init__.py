"""Exports: SavedModel (``export_saved_model``), LiteRT, ONNX and a web page (``export_tflite``, ``export_onnx``, ``export_web``).

``export_model(model, format)`` dispatches on the format name, as ``tfgen export --format`` does.
"""

from tfgen.export.convert import FORMATS, QUANTIZATIONS, export_model, export_onnx, export_tflite, export_web
from tfgen.export.saved_model import (
    DEFAULT_BASE_DIR,
    MODEL_CARD_FILENAME,
    existing_versions,
    export_saved_model,
)

__all__ = [
    "export_saved_model",
    "export_tflite",
    "export_onnx",
    "export_web",
    "export_model",
    "existing_versions",
    "FORMATS",
    "QUANTIZATIONS",
    "DEFAULT_BASE_DIR",
    "MODEL_CARD_FILENAME",
]
