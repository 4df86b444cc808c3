"""Reports from the metrics history: `data` loads and filters it, `kpi` computes the figures
(pure functions), `charts` draws SVG, and one module per output format renders them."""
