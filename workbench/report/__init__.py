"""The lab report: a model of what was tested and seen, rendered to HTML and Markdown.

``model`` holds the values, ``plots`` and ``ladder`` turn measurements and RTSP messages
into figures, ``i18n`` holds the message catalogs, ``render`` writes the report folder and
``from_check`` builds the parts that come from a checked capture.
"""

from workbench.report.model import (
    ConformanceRow,
    FunctionalTest,
    LadderMessage,
    LadderSession,
    Outcome,
    PlayerScreenshot,
    Plot,
    Report,
    Screenshot,
    StatRow,
    StreamSeries,
)

__all__ = [
    "ConformanceRow",
    "FunctionalTest",
    "LadderMessage",
    "LadderSession",
    "Outcome",
    "PlayerScreenshot",
    "Plot",
    "Report",
    "Screenshot",
    "StatRow",
    "StreamSeries",
]
