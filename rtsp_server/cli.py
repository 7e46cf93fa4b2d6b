"""Command line for rtsp_server (being built: see the README)."""

from __future__ import annotations

import argparse


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="rtsp-server")
    parser.parse_args(argv)
    return 0
