package plan

import (
	"errors"

	"ptsync/apiclient/ptd"
	"ptsync/config"
	"ptsync/replicator/reconcile/outbox"
	"ptsync/store"
)

// A deleted contact's survivor goes through two steps, each an outbox entry with a history
// line carrying the deciding rule: the policy (delete.policy, rule "delete-<policy>") once the
// deleted record has been missing for deletes.confirmations sweeps, and, if that record comes
// back, the undo (delete.undo, rule "undo-delete-<policy>"). The quarantine entry of the
// deleted record is the memory between them: the policy's success stores on it what it
// changed (store.AppliedPolicy) instead of forgetting the record, the record's return marks it
// Returned (store.ReleaseQuarantine), and the undo's success clears it. Both steps go through
// the outbox, so a crash repeats them rather than losing them, and both are idempotent
// (print_only and access are states, tags are set deltas).
//
// delete cannot be undone: the HighLevel contact is gone. When its PTD client comes back, the
// link is removed instead (history says so), and the client is then matched or created again
// like any client without a link, with only what PTD holds.

// deletes applies the delete policy to links whose other record has been missing for the
// configured number of confirmations (once: the quarantine entry remembers it applied), and
// plans the undo of a policy applied to a link whose deleted record came back, whatever the
// policy configured now.
func (p *pass) deletes() {
	s := p.s
	pol := p.Config.Deletes
	for _, l := range s.links {
		if l.Kind != store.KindContact || l.GHLID == "" || l.PTDID == "" || s.pending[store.KindContact+"/"+l.ID] {
			continue
		}
		qg, gDel := s.quar[qk(store.KindContact, store.SideGHL, l.GHLID)]
		qp, pDel := s.quar[qk(store.KindContact, store.SidePTD, l.PTDID)]
		if gDel && qg.Applied != nil && !qg.Returned.IsZero() {
			p.undo(l, qg)
			continue
		}
		if pDel && qp.Applied != nil && !qp.Returned.IsZero() {
			p.undo(l, qp)
			continue
		}
		if pol.Policy == config.DeleteIgnore || pol.Policy == "" || gDel == pDel {
			continue // ignored, or neither or both gone: nothing survives to act on
		}
		deleted, target, q := store.SideGHL, store.SidePTD, qg
		if pDel {
			deleted, target, q = store.SidePTD, store.SideGHL, qp
		}
		if q.Applied != nil || q.Confirmations < pol.Confirmations || !p.policyPossible(pol.Policy, target) {
			continue
		}
		rule := "delete-" + pol.Policy
		a := &action{link: l}
		a.entries = append(a.entries, outbox.Entry(target, outbox.OpDeletePolicy, store.KindContact,
			outbox.Payload{Policy: pol.Policy, Tag: pol.Tag, Deleted: deleted, Rule: rule}))
		a.history = append(a.history, store.HistoryEntry{RecordKind: store.KindContact, RecordID: l.GHLID, Field: "deleted",
			New: deleted, Direction: "local", Rule: rule})
		p.add(a)
	}
}

// policyPossible reports whether policy can act on a survivor on target (said once when the
// PTD driver lacks what it needs).
func (p *pass) policyPossible(policy, target string) bool {
	switch {
	case target == store.SideGHL && p.ro:
		return false
	case policy == config.DeletePrintOnly && target == store.SideGHL:
		return false // print-only is a PTD state
	case policy == config.DeletePrintOnly && !p.Remote.Can(ptd.CapPrintOnly, "set deleted contacts' clients to print only"):
		return false
	case policy == config.DeleteTag && target == store.SidePTD && !p.Remote.Can(ptd.CapTags, "tag clients whose contact was deleted"):
		return false
	case policy == config.DeleteDelete && target == store.SidePTD:
		p.Remote.Once("delete-ptd", func() {
			p.Logger.Warn("the ptd contract cannot delete clients; delete policy acts as ignore for ptd survivors")
		})
		return false
	}
	return true
}

// undo plans the reversal of the policy applied because of q, whose record came back: an
// outbox entry when the survivor was changed, else (nothing to reverse, or nothing can be)
// the entry is cleared here; either way one history line.
func (p *pass) undo(l *store.Link, q store.QuarantineEntry) {
	ap := q.Applied
	rule := outbox.UndoPrefix + ap.Rule
	a := &action{link: l}
	h := store.HistoryEntry{RecordKind: store.KindContact, RecordID: l.GHLID, Field: "deleted", Old: q.Side,
		New: "returned", Direction: "local", Rule: rule}
	pl := outbox.Payload{Policy: ap.Policy, Deleted: q.Side, Rule: rule}
	switch {
	case ap.Irreversible:
		a.release, a.unlink = &q, true
		h.New = "returned; the " + ap.Target + " record the policy deleted cannot be restored, so the link is removed"
	case ap.Policy == config.DeletePrintOnly && ap.PrevAccess != "":
		if !p.Remote.Can(ptd.CapAccess, "restore the access of clients whose contact came back") {
			a.release = &q
			h.New = "returned; access stays print_only (the driver cannot set " + ap.PrevAccess + ")"
			break
		}
		pl.Access = ap.PrevAccess
		a.entries = append(a.entries, outbox.Entry(store.SidePTD, outbox.OpDeleteUndo, store.KindContact, pl))
	case ap.Policy == config.DeleteTag && ap.TagAdded != "":
		if ap.Target == store.SideGHL && p.ro {
			return // waits until HighLevel is writable
		}
		pl.Tag = ap.TagAdded
		a.entries = append(a.entries, outbox.Entry(ap.Target, outbox.OpDeleteUndo, store.KindContact, pl))
	default:
		a.release = &q // the policy changed nothing that needs reversing
	}
	a.history = append(a.history, h)
	p.add(a)
}

// settleDeleted clears the quarantine entry an undo needed no write for and removes a link
// whose survivor the delete policy deleted, with its child links, in the plan's transaction.
func settleDeleted(tx *store.Tx, a *action) error {
	if q := a.release; q != nil {
		if err := tx.ClearQuarantine(q.Kind, q.Side, q.ID); err != nil {
			return err
		}
	}
	if !a.unlink {
		return nil
	}
	kids, err := tx.ChildLinks(a.link.ID)
	if err != nil {
		return err
	}
	for _, k := range kids {
		if err := tx.DeleteLink(k.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
	}
	if err := tx.DeleteLink(a.link.ID); !errors.Is(err, store.ErrNotFound) {
		return err
	}
	return nil
}
