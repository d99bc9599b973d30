package reconcile

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"ptsync/apiclient/ptd"
	"ptsync/apiclient/ptdwire"
	"ptsync/diff"
	"ptsync/replicator/reconcile/mapping"
	"ptsync/replicator/reconcile/outbox"
	"ptsync/store"
)

// RemindersStats reports one Reminders run.
type RemindersStats struct {
	Due    int // open tasks due inside the window
	Queued int // reminders queued now (the rest were sent or queued before)
}

// ReminderKey is the idempotency key of the reminder for task (by its side-prefixed id) due
// at due. The same task and due date always give the same key, across restarts; a new due
// date is a new reminder.
func ReminderKey(taskRef string, due time.Time) string {
	return "ptsync-reminder:" + taskRef + ":" + due.UTC().Format(time.RFC3339)
}

// Reminders queues exactly one PTD reminder for each open task due within reminders.window:
// HighLevel tasks of linked contacts, and PTD tasks no HighLevel task is linked to. The
// store's reminder-sent mark is written in the same transaction as the outbox entry, and the
// entry carries an idempotency key, so neither a restart nor a repeated push sends twice.
// Push delivers them. A driver without reminders is skipped, said once.
func (e *Engine) Reminders(ctx context.Context) (RemindersStats, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	var st RemindersStats
	if !e.cfg.Reminders.Enabled || e.remote.PTD == nil || !e.remote.Can(ptd.CapReminders, "send task reminders") {
		return st, nil
	}
	now := e.now().UTC()
	until := now.Add(e.cfg.Reminders.Window)
	type cand struct {
		ref, title string
		due        time.Time
		linkID     string
		clientID   string
		contact    store.PTDClient
	}
	var cands []cand
	err := e.db.View(func(tx *store.Tx) error {
		clientOf := func(contactLink store.Link) (store.PTDClient, bool) {
			if contactLink.PTDID == "" {
				return store.PTDClient{}, false
			}
			c, err := tx.GetPTDClient(contactLink.PTDID)
			return c, err == nil
		}
		if err := tx.GHLTasksDueBefore(until, func(t *store.GHLTask) error {
			if t.Completed || t.DueDate.Before(now) {
				return nil
			}
			l, err := tx.LinkByGHL(store.KindContact, t.ContactID)
			if err != nil {
				return nil
			}
			if c, ok := clientOf(l); ok {
				cands = append(cands, cand{ref: "ghl:" + t.ID, title: t.Title, due: t.DueDate, linkID: l.ID, clientID: c.ID, contact: c})
			}
			return nil
		}); err != nil {
			return err
		}
		return tx.PTDTasksDueBefore(until, func(t *store.PTDTask) error {
			if t.Completed || t.DueAt.Before(now) {
				return nil
			}
			if tl, err := tx.LinkByPTD(store.KindTask, t.ID); err == nil && tl.GHLID != "" {
				return nil // reminded through its HighLevel twin
			}
			l, err := tx.LinkByPTD(store.KindContact, t.ClientID)
			if err != nil {
				return nil
			}
			if c, ok := clientOf(l); ok {
				cands = append(cands, cand{ref: "ptd:" + t.ID, title: t.Title, due: t.DueAt, linkID: l.ID, clientID: c.ID, contact: c})
			}
			return nil
		})
	})
	if err != nil {
		return st, fmt.Errorf("cannot read tasks due: %w", err)
	}
	st.Due = len(cands)
	err = e.db.Update(func(tx *store.Tx) error {
		for _, c := range cands {
			_, sent, err := tx.ReminderSent(c.ref, c.due)
			if err != nil {
				return err
			}
			if sent {
				continue
			}
			key := ReminderKey(c.ref, c.due)
			due := c.due.UTC().Format(time.RFC3339)
			msg := e.cfg.Reminders.RenderReminder(map[string]string{"title": c.title, "due": due,
				"first_name": c.contact.FirstName, "last_name": c.contact.LastName, "email": c.contact.Email})
			if strings.TrimSpace(msg) == "" {
				msg = "Reminder: " + c.title
			}
			r := ptdwire.Reminder{ClientID: c.clientID, TaskID: strings.SplitN(c.ref, ":", 2)[1], Message: msg, DueAt: due, IdempotencyKey: key}
			o := outbox.Entry(store.SidePTD, outbox.OpReminder, "reminder", outbox.Payload{Reminder: &r})
			o.LinkID, o.RecordID, o.IdempotencyKey = c.linkID, key, key
			if err := tx.Enqueue(&o); err != nil {
				return err
			}
			if err := tx.RecordReminder(c.ref, c.due, key); err != nil {
				return err
			}
			st.Queued++
		}
		return nil
	})
	if err != nil {
		return st, fmt.Errorf("cannot queue reminders: %w", err)
	}
	if st.Queued > 0 {
		e.log.Info("reminders queued", "count", st.Queued)
	}
	return st, nil
}

// Resolution chooses the value of a conflicted field.
type Resolution struct {
	// Take is "ghl", "ptd" or "value".
	Take string
	// Value is the value to write when Take is "value" (sets: a JSON array).
	Value string
}

// ErrNoConflict: ResolveConflict found no open conflict for the link and field.
var ErrNoConflict = errors.New("no open conflict")

// ResolveConflict settles an open manual conflict: the chosen value is queued for every side
// that does not hold it, the conflict is marked resolved and the decision goes to history, all
// in one transaction. The next Push writes it; once it succeeded the base is the chosen value
// and later merges see agreement. It works offline (only the mirror is touched).
func (e *Engine) ResolveConflict(ctx context.Context, linkID, field string, r Resolution) (store.Conflict, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	spec := e.mp.Spec(field)
	if spec == nil {
		return store.Conflict{}, fmt.Errorf("cannot resolve conflict: field %q is not in the mapping", field)
	}
	f := e.mp.Fields[field]
	ro := e.remote.ReadOnly(ctx)
	var out store.Conflict
	err := e.db.Update(func(tx *store.Tx) error {
		cs, err := tx.Conflicts(linkID, false)
		if err != nil {
			return err
		}
		var c *store.Conflict
		for i := range cs {
			if cs[i].Field == field {
				c = &cs[i]
			}
		}
		if c == nil {
			return fmt.Errorf("cannot resolve conflict on link %s field %s: %w", linkID, field, ErrNoConflict)
		}
		l, err := tx.GetLink(linkID)
		if err != nil {
			return fmt.Errorf("cannot resolve conflict: %w", err)
		}
		var chosen string
		switch r.Take {
		case "ghl":
			chosen = c.GHL
		case "ptd":
			chosen = c.PTD
		case "value":
			v := mapping.DecodeValue(r.Value, spec.Set)
			if !spec.Set {
				n, err := spec.Normalizer.Apply(r.Value, e.mp.Options.Locale)
				if err != nil {
					return fmt.Errorf("cannot resolve conflict with value %q: %w", r.Value, err)
				}
				v = diff.Scalar(n)
			}
			chosen = mapping.EncodeValue(v)
		default:
			return fmt.Errorf("cannot resolve conflict: take %q is not ghl, ptd or value", r.Take)
		}
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
			o := outbox.Entry(side, op, store.KindContact, outbox.Payload{Fields: map[string]outbox.FieldWrite{field: fw}})
			o.LinkID, o.RecordID = l.ID, l.ID
			if err := tx.Enqueue(&o); err != nil {
				return err
			}
		}
		if targets[store.SideGHL] == chosen && targets[store.SidePTD] == chosen {
			b, err := tx.GetBase(l.ID)
			if errors.Is(err, store.ErrNotFound) {
				b = store.Base{LinkID: l.ID, Fields: map[string]string{}}
			}
			b.Fields[field] = chosen
			b.AgreedAt = e.now().UTC()
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
	if err == nil {
		e.publish()
	}
	return out, err
}
