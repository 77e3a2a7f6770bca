"""tfgen benchmarks: long runs and timings, kept out of the test suite."""
