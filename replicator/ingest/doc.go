// Package ingest mirrors a HighLevel location into the store: contacts incrementally through
// POST /contacts/search (dateUpdated ascending, an overlap window re-read and de-duplicated on
// (id, dateUpdated)), full sweeps through GET /contacts/ that find deletions and anything the
// search missed, children (tasks, notes, appointments) refreshed under the rate budget, the
// first backfill, and the webhook intake that marks contacts dirty.
//
// Every write follows the store's rule: a page of records and the cursor that covers it commit
// in one transaction, so a crash at any point loses nothing and repeats nothing visible. No
// network call happens inside a transaction.
//
// A Poller is safe for concurrent use, but its jobs are meant to be serialized per job by the
// scheduler (package replicator); two Incremental calls at once would only waste requests.
// Deletions are never propagated from here: a contact missing from a complete sweep is held in
// the store's quarantine (its record stays in the mirror) and released when it reappears.
// Each complete sweep that still misses it adds a confirmation (the delete policy's count);
// the children job leaves quarantined contacts alone, because rewriting the contact record
// (which moving it in the rotation does) would clear the entry and its confirmations.
package ingest
