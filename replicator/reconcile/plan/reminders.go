package plan

import (
	"context"
	"fmt"
	"strings"
	"time"

	"ptsync/apiclient/ptd"
	"ptsync/apiclient/ptdwire"
	"ptsync/replicator/reconcile/outbox"
	"ptsync/store"
)

// RemindersStats reports one QueueReminders. Trust it only without an error: a failed
// queueing transaction wrote nothing, whatever Queued had counted.
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

// QueueReminders queues exactly one PTD reminder for each open task due within
// reminders.window: HighLevel tasks of linked contacts, and PTD tasks no HighLevel task is
// linked to. The store's reminder-sent mark is written in the same transaction as the outbox
// entry, and the entry carries an idempotency key, so neither a restart nor a repeated push
// sends twice. The pusher delivers them. Disabled reminders, or a driver without them (said
// once), queue nothing.
func (p *Planner) QueueReminders(ctx context.Context) (RemindersStats, error) {
	var st RemindersStats
	if !p.Config.Reminders.Enabled || p.Remote.PTD == nil || !p.Remote.Can(ptd.CapReminders, "send task reminders") {
		return st, nil
	}
	now := p.Now().UTC()
	var due []dueTask
	err := p.Store.View(func(tx *store.Tx) error {
		var err error
		due, err = dueTasks(tx, now, now.Add(p.Config.Reminders.Window))
		return err
	})
	if err != nil {
		return st, fmt.Errorf("cannot read tasks due: %w", err)
	}
	st.Due = len(due)
	err = p.Store.Update(func(tx *store.Tx) error {
		st.Queued = 0
		for _, t := range due {
			queued, err := p.queueReminder(tx, t)
			if err != nil {
				return err
			}
			if queued {
				st.Queued++
			}
		}
		return nil
	})
	if err != nil {
		return st, fmt.Errorf("cannot queue reminders: %w", err)
	}
	if st.Queued > 0 {
		p.Logger.Info("reminders queued", "count", st.Queued)
	}
	return st, nil
}

// dueTask is an open task a reminder is owed for, with the linked client it goes to.
type dueTask struct {
	ref, title string // ref: the side-prefixed task id ("ghl:…", "ptd:…")
	due        time.Time
	linkID     string // the contact link
	client     store.PTDClient
}

// dueTasks lists the open tasks due in [now, until] whose contact is linked to a mirrored PTD
// client: HighLevel tasks, then PTD tasks that no HighLevel task is linked to (those are
// reminded through their HighLevel twin).
func dueTasks(tx *store.Tx, now, until time.Time) ([]dueTask, error) {
	var out []dueTask
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
			out = append(out, dueTask{ref: "ghl:" + t.ID, title: t.Title, due: t.DueDate, linkID: l.ID, client: c})
		}
		return nil
	}); err != nil {
		return nil, err
	}
	err := tx.PTDTasksDueBefore(until, func(t *store.PTDTask) error {
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
			out = append(out, dueTask{ref: "ptd:" + t.ID, title: t.Title, due: t.DueAt, linkID: l.ID, client: c})
		}
		return nil
	})
	return out, err
}

// queueReminder queues t's reminder with its reminder-sent mark in tx, unless the mark is
// there already (sent or queued before); queued reports which.
func (p *Planner) queueReminder(tx *store.Tx, t dueTask) (queued bool, err error) {
	if _, sent, err := tx.ReminderSent(t.ref, t.due); err != nil || sent {
		return false, err
	}
	key := ReminderKey(t.ref, t.due)
	due := t.due.UTC().Format(time.RFC3339)
	msg := p.Config.Reminders.RenderReminder(map[string]string{"title": t.title, "due": due,
		"first_name": t.client.FirstName, "last_name": t.client.LastName, "email": t.client.Email})
	if strings.TrimSpace(msg) == "" {
		msg = "Reminder: " + t.title
	}
	r := ptdwire.Reminder{ClientID: t.client.ID, TaskID: strings.SplitN(t.ref, ":", 2)[1], Message: msg, DueAt: due, IdempotencyKey: key}
	o := outbox.Entry(store.SidePTD, outbox.OpReminder, "reminder", outbox.Payload{Reminder: &r})
	o.LinkID, o.RecordID, o.IdempotencyKey = t.linkID, key, key
	if err := tx.Enqueue(&o); err != nil {
		return false, err
	}
	return true, tx.RecordReminder(t.ref, t.due, key)
}
