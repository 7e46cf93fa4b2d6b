"""The `rtsp-workbench` command: sample media, capture, check, report, demo."""
