package plan

import (
	"context"
	"errors"
	"fmt"

	"ptsync/diff"
	"ptsync/replicator/reconcile/mapping"
	"ptsync/replicator/reconcile/outbox"
	"ptsync/store"
)

// Resolution chooses the value of a conflicted field.
type Resolution struct {
	// Take is "ghl", "ptd" or "value".
	Take string
	// Value is the value to write when Take is "value" (sets: a JSON array).
	Value string
}

// ErrNoConflict: Resolve found no open conflict for the link and field.
var ErrNoConflict = errors.New("no open conflict")

// Resolve settles an open manual conflict: the chosen value is queued for every side that
// does not hold it (HighLevel not at all with a read-only token), the conflict is marked
// resolved and the decision goes to history, all in one transaction; when both sides hold it
// already, it becomes the base at once. The next push writes it; once it succeeded the base
// is the chosen value and later merges see agreement. It works offline (only the mirror is
// touched). A field outside the mapping, an unknown take or a value that does not normalize
// is an error and changes nothing; so is a missing conflict (ErrNoConflict).
func (p *Planner) Resolve(ctx context.Context, linkID, field string, r Resolution) (store.Conflict, error) {
	spec := p.Mapping.Spec(field)
	if spec == nil {
		return store.Conflict{}, fmt.Errorf("cannot resolve conflict: field %q is not in the mapping", field)
	}
	ro := p.Remote.ReadOnly(ctx)
	var out store.Conflict
	err := p.Store.Update(func(tx *store.Tx) error {
		c, err := openConflict(tx, linkID, field)
		if err != nil {
			return err
		}
		l, err := tx.GetLink(linkID)
		if err != nil {
			return fmt.Errorf("cannot resolve conflict: %w", err)
		}
		chosen, err := p.chosenValue(c, spec, r)
		if err != nil {
			return err
		}
		if err := p.queueChosen(tx, l, c, spec, chosen, ro); err != nil {
			return err
		}
		if c.GHL == chosen && c.PTD == chosen {
			b, err := tx.GetBase(l.ID)
			if errors.Is(err, store.ErrNotFound) {
				b = store.Base{LinkID: l.ID, Fields: map[string]string{}}
			}
			b.Fields[field] = chosen
			b.AgreedAt = p.Now().UTC()
			if err := tx.PutBase(b); err != nil {
				return err
			}
		}
		if out, err = tx.ResolveConflict(linkID, field, chosen); err != nil {
			return err
		}
		return tx.AppendHistory(&store.HistoryEntry{LinkID: l.ID, RecordKind: store.KindContact, RecordID: l.GHLID, Field: field,
			Old: c.Base, New: chosen, Direction: "local", Rule: "manual-resolved-" + r.Take})
	})
	return out, err
}

// openConflict returns the open conflict of link on field, ErrNoConflict when there is none.
func openConflict(tx *store.Tx, linkID, field string) (store.Conflict, error) {
	cs, err := tx.Conflicts(linkID, false)
	if err != nil {
		return store.Conflict{}, err
	}
	var c *store.Conflict
	for i := range cs {
		if cs[i].Field == field {
			c = &cs[i]
		}
	}
	if c == nil {
		return store.Conflict{}, fmt.Errorf("cannot resolve conflict on link %s field %s: %w", linkID, field, ErrNoConflict)
	}
	return *c, nil
}

// chosenValue is the value r picks for c, encoded as bases hold it: one side's, or r.Value
// normalized by the field's spec (a set is taken as given, a JSON array).
func (p *Planner) chosenValue(c store.Conflict, spec *diff.FieldSpec, r Resolution) (string, error) {
	switch r.Take {
	case "ghl":
		return c.GHL, nil
	case "ptd":
		return c.PTD, nil
	case "value":
		v := mapping.DecodeValue(r.Value, spec.Set)
		if !spec.Set {
			n, err := spec.Normalizer.Apply(r.Value, p.Mapping.Options.Locale)
			if err != nil {
				return "", fmt.Errorf("cannot resolve conflict with value %q: %w", r.Value, err)
			}
			v = diff.Scalar(n)
		}
		return mapping.EncodeValue(v), nil
	}
	return "", fmt.Errorf("cannot resolve conflict: take %q is not ghl, ptd or value", r.Take)
}

// queueChosen queues, in tx, the write of chosen to each side of l whose value in c differs
// (sets as deltas from that side's value), each entry carrying chosen as the field's base;
// HighLevel is left out when ro.
func (p *Planner) queueChosen(tx *store.Tx, l store.Link, c store.Conflict, spec *diff.FieldSpec, chosen string, ro bool) error {
	f := p.Mapping.Fields[spec.Name]
	v := mapping.DecodeValue(chosen, spec.Set)
	enc := chosen
	targets := map[string]string{store.SideGHL: c.GHL, store.SidePTD: c.PTD}
	for _, side := range []string{store.SideGHL, store.SidePTD} {
		cur := targets[side]
		if cur == chosen || (side == store.SideGHL && ro) {
			continue
		}
		fw := outbox.FieldWrite{Value: v, Base: &enc}
		op, wire := outbox.OpClientUpdate, f.PTD
		if side == store.SideGHL {
			op, wire = outbox.OpContactUpdate, f.GHL
		}
		fw.Wire = wire
		if spec.Set {
			old := mapping.DecodeValue(cur, true)
			fw.Add, fw.Remove = outbox.Delta(old.Set, v.Set)
		}
		o := outbox.Entry(side, op, store.KindContact, outbox.Payload{Fields: map[string]outbox.FieldWrite{spec.Name: fw}})
		o.LinkID, o.RecordID = l.ID, l.ID
		if err := tx.Enqueue(&o); err != nil {
			return err
		}
	}
	return nil
}
