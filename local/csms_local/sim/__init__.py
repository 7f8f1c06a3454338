"""csms-sim: a fleet of simulated OCPP 1.6, 2.0.1 or 2.1 charge points against a CSMS URL.

The pieces: `config` (options, bounds, the loopback guard), `client` (one charger's
WebSocket and its raw OCPP-J frames, 1.6's messages), `client201` (2.0.1's messages on the
same machinery, also spoken as ocpp2.1), `responder` and `responder201` (how a charger
answers the CSMS's commands in each version), `profiles` (what each charger does:
saturate, fleet, storm), `stats` (latency histogram and counters, mergeable across
processes), `runner` (ramp, duration, progress line, worker processes), `register` and
`verify` (before and after a run), `anchor` (a plain `ocpp`-package central system to
compare against) and `cli`.

In-process use (what the tests and bench/load.py do):
    summary = await simulate(SimConfig(url="ws://127.0.0.1:9000/ocpp", chargers=5, ...))
"""

from csms_local.sim.config import SimConfig, SimConfigError
from csms_local.sim.runner import run, simulate
from csms_local.sim.stats import Summary

__all__ = ["SimConfig", "SimConfigError", "Summary", "run", "simulate"]
