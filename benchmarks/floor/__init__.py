"""The floor service of benchmarks/requests.sh (copied into the benchmark's app tree)."""
