"""`rtsp-workbench frames`: a .Mjpeg output is in the lab's format; unwritable outputs and
unreadable captures give one line on stderr and exit 2."""

from __future__ import annotations

from analysis_corpus import clean_session

from rtsp_common.mjpeg import LAB_FORMAT, open_media
from workbench.cli import main


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_frames_into_a_lab_file_writes_the_labs_format(tmp_path, capsys):
    path = clean_session().write(tmp_path / "clean.pcap")
    out_file = tmp_path / "from-capture.Mjpeg"
    code, _, _ = run(capsys, "frames", str(path), "--mjpeg", str(out_file))
    assert code == 0
    assert out_file.read_bytes()[:5].isdigit()
    with open_media(out_file) as reader:
        assert reader.format == LAB_FORMAT and len(list(reader)) == 45


def test_frames_cannot_write(tmp_path, capsys):
    path = clean_session().write(tmp_path / "clean.pcap")
    blocker = tmp_path / "plain-file"
    blocker.write_text("a file, not a folder")
    code, out, err = run(capsys, "frames", str(path), "--mjpeg", str(blocker / "x.mjpeg"))
    assert code == 2 and "cannot write" in err and "frame(s)" not in out
    code, _, err = run(capsys, "frames", str(path), "-o", str(blocker / "dir"))
    assert code == 2 and "cannot write" in err
    code, _, err = run(capsys, "frames", str(tmp_path / "absent.pcap"), "-o", str(tmp_path))
    assert code == 2 and "cannot read" in err
