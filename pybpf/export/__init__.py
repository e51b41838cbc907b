"""`pybpf export`: in-kernel counters and log2 histograms served as Prometheus metrics.

Custom metrics are Python modules compiled by pybpf, named in the YAML configuration:

    from pybpf import bpf, maps, u32, u64
    from pybpf.export import Counter, Histogram, observe

    opens = maps.Hash(key=s32, value=u64, max_entries=256)

    @bpf.tracepoint("syscalls:sys_exit_openat")
    def count_opens(ctx):
        opens[s32(ctx.ret) if ctx.ret < 0 else 0] += 1
        return 0

    METRICS = [Counter("myapp_opens_total", "openat() results", opens,
                       labels=[("result", "errno")])]

See `buckets` for the histogram bucket rules, `decoders` for the label decoders, `config`
for the file format, `collector` for the cardinality guard and the exporter's own metrics.
"""

from __future__ import annotations

from pybpf.export.buckets import (
    SUM_SLOT,
    cumulative,
    le_bucket,
    observe,
    observe0,
    observe2,
    observe3,
)
from pybpf.export.metrics import Counter, Gauge, Histogram, Label

__all__ = ["SUM_SLOT", "Counter", "Gauge", "Histogram", "Label", "cumulative", "le_bucket",
           "observe", "observe0", "observe2", "observe3"]
