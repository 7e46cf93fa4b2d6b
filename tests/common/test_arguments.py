"""The command-line value types both CLIs share refuse what they should, with one message."""

import argparse
import re

import pytest

from rtsp_common.arguments import port, positive_int, positive_seconds, rtp_port


@pytest.mark.parametrize(
    ("convert", "text", "message"),
    [
        (port, "65536", "not a port (0-65535)"),
        (port, "eighty", "not a number"),
        (rtp_port, "65535", "not a port for RTP (0-65534"),
        (rtp_port, "5001", "odd: RTP takes an even port"),
        (positive_int, "0", "not 1 or more"),
        (positive_seconds, "inf", "not a positive number of seconds"),
        (positive_seconds, "nan", "not a positive number of seconds"),
        (positive_seconds, "-1", "not a positive number of seconds"),
    ],
)
def test_bad_values_are_usage_errors(convert, text, message):
    with pytest.raises(argparse.ArgumentTypeError, match=re.escape(message)):
        convert(text)


def test_good_values_pass_through():
    assert port("0") == 0 and port("65535") == 65535
    assert rtp_port("5000") == 5000
    assert positive_int("3") == 3
    assert positive_seconds("0.5") == 0.5
