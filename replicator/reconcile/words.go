package reconcile

// The words a plan and the mirror use for how a record was linked, why a record was left
// alone and why a field is held; operators read them in ptsync plan, history and conflicts.

// SkipAwaitingPTDListing is the skip reason of a HighLevel contact that matched no PTD client
// before the first complete PTD listing is in the mirror: it is neither linked nor created yet.
const SkipAwaitingPTDListing = "waiting for the first complete PT Distinction client listing before creating a client"

// ReasonBothChanged is the Reason of a conflict of the manual rule.
const ReasonBothChanged = "both sides changed it since they last agreed (rule manual)"
