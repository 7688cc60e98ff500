"""Demo data: a deterministic, realistic Chinese retail programme for trying Patron and for benchmarks."""
