"""The RTSP ladder diagram: client and server columns with an arrow per message.

The HTML form is drawn by the template with CSS; this module draws the plain-text form
used in the Markdown report, and trims message text for display.
"""

from __future__ import annotations

from workbench.report.model import LadderMessage, LadderSession

ARROW_WIDTH = 64  # characters between the two columns in the text ladder
MAX_SHOWN_BODY = 2000  # characters of a message body shown before it is cut


def shown_text(message: LadderMessage) -> str:
    """The message as it went on the wire, CRLF shown as line breaks, long bodies cut."""
    text = message.text.replace("\r\n", "\n")
    if len(text) > MAX_SHOWN_BODY:
        text = text[:MAX_SHOWN_BODY] + f"\n... ({len(message.text) - MAX_SHOWN_BODY} more)"
    return text


def _label(first_line: str) -> str:
    room = ARROW_WIDTH - 6
    return first_line if len(first_line) <= room else first_line[: room - 3] + "..."


def text_arrow(message: LadderMessage) -> str:
    """One line of the text ladder, e.g. ``|-- OPTIONS * RTSP/1.0 ------->|``."""
    label = f" {_label(message.first_line)} "
    if message.from_client:
        body = "--" + label
        body += "-" * (ARROW_WIDTH - len(body) - 1) + ">"
    else:
        body = "<-" + label
        body += "-" * (ARROW_WIDTH - len(body))
    return f"|{body}|"


def text_ladder(
    session: LadderSession, client: str = "client", server: str = "server", left_out: str = ""
) -> str:
    """The session as a fixed-width ladder for a Markdown code block; ``left_out`` is the
    line standing for the messages a long connection leaves out."""
    header = client.ljust(ARROW_WIDTH + 1) + server
    lines = [header]
    for index, message in enumerate(session.messages):
        if session.left_out and index == session.left_out_after:
            lines.append(f"|{left_out.center(ARROW_WIDTH)}|")
        when = f"  {message.time:7.3f} s" if message.time is not None else ""
        lines.append(text_arrow(message) + when)
    return "\n".join(lines)
