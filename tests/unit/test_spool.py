from __future__ import annotations

from producers.spool import Spool


def test_segments_replay_oldest_first_and_skip_torn_lines(tmp_path) -> None:
    spool = Spool(tmp_path, segment_max_bytes=10)
    spool.open()
    spool.append([b'k1\t{"a":1}', b'k2\t{"a":2}'])
    spool.append([b'k1\t{"a":3}'])
    spool.close()
    segments = spool.segments()
    assert len(segments) == 2
    with open(segments[-1], "ab") as handle:
        handle.write(b'k9\t{"torn')
    pairs = [p for s in segments for p in Spool.read(s)]
    assert pairs == [("k1", b'{"a":1}'), ("k2", b'{"a":2}'), ("k1", b'{"a":3}')]
    spool.remove(segments[0])
    assert spool.segments() == segments[1:]
