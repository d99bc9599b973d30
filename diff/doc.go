// Package diff holds the pure heart of reconciliation: value normalization, field diffs and the
// three-way merge that decides, field by field, what to write to HighLevel and to PT Distinction.
//
// Everything here is a pure function of its arguments: no I/O, no clock, no logging, no
// package-level mutable state. Every function and method is safe for concurrent use, and calling
// one twice with the same arguments gives the same answer, so the reconciler may re-run a merge
// as often as it likes (a dry-run plan is just a merge whose result is not pushed).
//
// The merge contract, in short (docs/reconciliation.md has the full table):
//
//   - base is the normalized value both sides last agreed on. Only one side changed since base:
//     that side's value flows to the other. Both changed to the same value: agreement, no write.
//     Both changed differently: the field's Rule (newest, ghl, ptd, manual) decides.
//   - no base: the initial winner decides, except that an empty value never wins.
//   - an empty value never overwrites a non-empty one unless the field has AllowEmpty; instead the
//     non-empty value is written back to the side that was emptied.
//   - one-way fields: the source is the truth; the destination is made equal to it.
//   - sets (tags) merge as sets and are written as deltas.
//   - a value that cannot be normalized freezes its field: nothing is written, base is kept, and
//     the value is reported in Result.Invalid.
//
// After the pusher has applied Result.ToGHL and Result.ToPTD, storing Result.Base as the new base
// makes the next merge of the unchanged records a no-op: that is the echo suppression.
package diff
