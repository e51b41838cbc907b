"""Rendering of what tools collect: bcc-style text histograms (`hist`), latency heat maps
(`heatmap`) and flame graphs (`flamegraph`) as self-contained SVG, JSON lines (`jsonl`) and the
HTML report (`html`). Nothing here touches the kernel."""
