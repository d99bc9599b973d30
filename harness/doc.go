// Package harness is ptsync's reliability harness: it runs the real ptsync binary as a process
// against the standalone simulators (`ptsync sim`, also a process), changes both sides at a
// steady rate through the simulators' HTTP control surfaces while recording every edit, and
// then proves that nothing was lost, duplicated or left diverged.
//
// Two scenarios:
//
//   - CrashLoop: `ptsync run` is SIGKILLed at random moments K times (the first kill lands in
//     the backfill) and restarted each time; OAuth access tokens live a few seconds, so token
//     refreshes happen throughout. A kill that lands in the documented refresh gap
//     (docs/ghl-client.md: after HighLevel answered a refresh, before the new pair is fsynced)
//     shows up as a refused refresh token at the simulator; the harness counts it in its own
//     column and re-installs through the simulator's control surface, as an operator would run
//     `ptsync auth`.
//   - Soak: the simulators inject 429 bursts, 5xx, connection resets, malformed JSON, latency
//     and access tokens dying every N calls for a configured duration, with one full outage
//     that must open and close the circuit breaker; RSS is read from /proc at the start (after
//     the backfill) and at the end.
//
// Both end the same way: churn stops, faults stop, the service is left to converge, stopped
// with SIGTERM, and Verify compares the mirror with the simulators, both sides on every
// two-way field (harness/convergence), every recorded edit against the final
// state (Ledger), duplicates, the outbox and store.Check.
//
// Nothing here is safe for concurrent use unless stated; a scenario owns its processes and
// kills only the process ids it started.
package harness
