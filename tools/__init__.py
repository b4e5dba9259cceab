"""Tools above the tests: what the tests, the benchmark (bench/) and the chaos run (chaos/)
share to run orderwire for real. Nothing here imports tests, bench or chaos."""
