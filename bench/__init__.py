"""The benchmark harness of tap-openproject: `make bench` (or `python -m bench [--quick]`).

It starts the local OpenProject double (tests/openproject_double) in its own process with a configurable server
cost, then runs each measured client in its own process and records wall time, records per second, requests
seen by the double and peak RSS:

- the sequential floor: a plain `requests` client that reads every page at the maximum page size (or every
  work package's activities, one after another) and writes each record as a JSON line (``bench.floor``);
- the tap, ``tap-openproject --config C --catalog K`` with default settings, stdout to a file.

Modules: ``double`` (the double as a subprocess), ``measure`` (wall time and peak RSS of one process),
``floor`` (the sequential floor clients), ``scenarios`` (what is measured), ``report`` (bench/results.md).
"""
