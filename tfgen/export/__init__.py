"""SavedModel export: ``tfgen.export.export_saved_model``."""

from tfgen.export.saved_model import (
    DEFAULT_BASE_DIR,
    MODEL_CARD_FILENAME,
    existing_versions,
    export_saved_model,
)

__all__ = ["export_saved_model", "existing_versions", "DEFAULT_BASE_DIR", "MODEL_CARD_FILENAME"]
