#!/usr/bin/env python3
"""numpy's percentile (default linear interpolation) on the values of tests/eval/bootstrap_test.cpp,
the rule mbmd::engine::percentile follows for the bootstrap intervals.

Run with Debian's numpy: /usr/bin/python3 tools/bootstrap_percentile_reference.py
"""
import numpy as np

values = [0.3, 0.1, 0.7, 0.5, 0.9, 0.2, 0.4]
for q in (2.5, 50, 97.5):
    print(f"percentile(v, {q}) = {np.percentile(values, q)!r}")
print(f"percentile([0.25, 0.75], 2.5) = {np.percentile([0.25, 0.75], 2.5)!r}")
