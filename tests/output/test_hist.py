"""bcc-style histogram text, byte for byte."""

from __future__ import annotations

from pybpf.output import hist


def test_log2_text_exact() -> None:
    # pybpf buckets: 0 -> value 0, 1 -> [1,2), 2 -> [2,4), 3 -> [4,8), 5 -> [16,32)
    lines = hist.log2_lines({0: 1, 1: 2, 2: 4, 3: 8, 5: 2}, "usecs")
    assert lines == [
        "     usecs               : count     distribution",
        "         0 -> 1          : 3        |***************                         |",
        "         2 -> 3          : 4        |********************                    |",
        "         4 -> 7          : 8        |****************************************|",
        "         8 -> 15         : 0        |                                        |",
        "        16 -> 31         : 2        |**********                              |",
    ]


def test_log2_empty_and_strip() -> None:
    assert hist.log2_lines({}, "usecs") == []
    lines = hist.log2_lines({4: 5}, "msecs", strip_leading_zero=True)
    assert lines == [
        "     msecs               : count     distribution",
        "         8 -> 15         : 5        |****************************************|",
    ]


def test_log2_wide_above_bucket_32() -> None:
    lines = hist.log2_lines({40: 1}, "nsecs")
    assert lines[0] == "               nsecs                         : count     distribution"
    assert lines[-1] == ("        549755813888 -> 1099511627775        : 1        "
                         "|********************|")
    assert len(lines) == 41


def test_linear_text_exact() -> None:
    lines = hist.linear_lines({0: 2, 2: 4}, "msecs")
    assert lines == [
        "     msecs         : count     distribution",
        "        0          : 2        |********************                    |",
        "        1          : 0        |                                        |",
        "        2          : 4        |****************************************|",
    ]


def test_stars_overflow_and_json() -> None:
    assert hist.stars(50, 40, 4) == "***+"
    assert hist.stars(0, 0, 40) == ""
    assert hist.log2_json({0: 1, 3: 2}, "usecs") == {
        "unit": "usecs", "buckets": [{"low": 0, "high": 1, "count": 1},
                                     {"low": 4, "high": 7, "count": 2}]}
    assert hist.split_keyed({("sda", 1): 2, ("sda", 3): 1, ("vdb", 1): 5}) == {
        "sda": {1: 2, 3: 1}, "vdb": {1: 5}}
