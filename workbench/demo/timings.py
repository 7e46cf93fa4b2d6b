"""How long the demo's playback script spends in each phase.

Kept apart from workbench.demo.playback, which needs the client, so that the command-line
parser can show these defaults without importing it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Timings:
    """Seconds spent in each phase of the script."""

    play_s: float = 3.0
    pause_s: float = 1.0
    resume_s: float = 2.0
