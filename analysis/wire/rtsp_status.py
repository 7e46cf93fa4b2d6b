"""The RTSP status codes the checker and the probe judge replies by (RFC 2326 §7.1.1).

The oracle's own copy: ``analysis`` imports nothing of the code it checks, so this table
is written again here rather than taken from ``rtsp_common.status``.
"""

from __future__ import annotations

from enum import IntEnum

SUCCESS_CLASS = 2  # RFC 2326 §7.1.1: the first digit names the class; 2xx is success


class Status(IntEnum):
    """An RTSP status code the analysis names (RFC 2326 §7.1.1), named after its phrase."""

    OK = 200
    BAD_REQUEST = 400
    UNAUTHORIZED = 401
    FORBIDDEN = 403
    NOT_FOUND = 404
    METHOD_NOT_ALLOWED = 405
    REQUEST_ENTITY_TOO_LARGE = 413
    SESSION_NOT_FOUND = 454
    METHOD_NOT_VALID_IN_THIS_STATE = 455
    AGGREGATE_OPERATION_NOT_ALLOWED = 459
    UNSUPPORTED_TRANSPORT = 461
    NOT_IMPLEMENTED = 501
    RTSP_VERSION_NOT_SUPPORTED = 505


def is_success_status(code: int) -> bool:
    """True for a 2xx code."""
    return code // 100 == SUCCESS_CLASS
