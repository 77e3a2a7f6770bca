"""Sample-quality metrics: pure functions of arrays, computed in float64."""

from tfgen.metrics.mode_coverage import mode_coverage, nearest_modes

__all__ = ["mode_coverage", "nearest_modes"]
