"""Command line for rtsp_client (being built: see the README)."""

from __future__ import annotations

import argparse


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="rtsp-client")
    parser.parse_args(argv)
    return 0
