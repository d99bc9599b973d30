package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"
)

// Link pairs a HighLevel record with its PT Distinction counterpart. A link is unique per
// side: at most one link of a Kind has a given GHLID, and one a given PTDID.
type Link struct {
	ID           string    `json:"id"`
	Kind         string    `json:"kind"` // contact | task | note | appointment
	GHLID        string    `json:"ghlId,omitempty"`
	PTDID        string    `json:"ptdId,omitempty"`
	ParentLinkID string    `json:"parentLinkId,omitempty"` // children: the contact link
	MatchedBy    string    `json:"matchedBy,omitempty"`    // stored | email | phone | created
	CreatedAt    time.Time `json:"createdAt"`
}

// ErrDuplicateLink: PutLink would give a record on one side two links.
var ErrDuplicateLink = errors.New("record already linked")

func (l *Link) collection() Collection { return collLinks }
func (l *Link) primaryKey() string     { return l.ID }
func (l *Link) updated() time.Time     { return time.Time{} }
func (l *Link) quarantineKey() string  { return "" }
func (l *Link) validate() error {
	if err := checkID("link", l.ID); err != nil {
		return err
	}
	return checkNoNUL("link "+l.ID, l.GHLID, l.PTDID, l.ParentLinkID)
}
func (l *Link) entries() []entry {
	var es []entry
	if l.GHLID != "" {
		es = append(es, entry{"ghl", l.Kind + "/" + l.GHLID})
	}
	if l.PTDID != "" {
		es = append(es, entry{"ptd", l.Kind + "/" + l.PTDID})
	}
	if l.ParentLinkID != "" {
		es = append(es, entry{"parent", l.ParentLinkID})
	}
	return es
}

// PutLink creates or replaces a link. An empty ID is assigned ("L" and a sequence number) and
// written back to l; a zero CreatedAt becomes now. A GHLID or PTDID already linked by another
// link of the same kind is ErrDuplicateLink and nothing is written. The kind must be
// KindContact or a child kind the mirror registers (ErrInvalid otherwise).
func (tx *Tx) PutLink(l *Link) error {
	if _, child := tx.st.kinds.byName[l.Kind]; !child && l.Kind != KindContact {
		return fmt.Errorf("cannot store link %s: %w: kind %q is not contact nor a registered child kind", l.ID, ErrInvalid, l.Kind)
	}
	if l.ID == "" {
		b, err := tx.bucket([]byte(collLinks))
		if err != nil {
			return err
		}
		seq, err := b.NextSequence()
		if err != nil {
			return fmt.Errorf("cannot allocate link id: %w", err)
		}
		l.ID = fmt.Sprintf("L%010d", seq)
	}
	if l.CreatedAt.IsZero() {
		l.CreatedAt = tx.now().UTC()
	}
	for _, side := range []struct{ index, id string }{{"ghl", l.GHLID}, {"ptd", l.PTDID}} {
		if side.id == "" {
			continue
		}
		other, err := first[Link](tx, collLinks, side.index, l.Kind+"/"+side.id)
		if err == nil && other.ID != l.ID {
			return fmt.Errorf("cannot store link %s: %w: %s %s %q is already in link %s", l.ID, ErrDuplicateLink, side.index, l.Kind, side.id, other.ID)
		}
		if err != nil && !errors.Is(err, ErrNotFound) {
			return err
		}
	}
	return tx.putRecord(l)
}

// GetLink returns the link with id; ErrNotFound when there is none (it was never made, or
// DeleteLink removed it).
func (tx *Tx) GetLink(id string) (Link, error) {
	var l Link
	return l, tx.get(collLinks, id, &l)
}

// LinkByGHL returns the link of kind whose HighLevel id is ghlID; ErrNotFound if unlinked.
func (tx *Tx) LinkByGHL(kind, ghlID string) (Link, error) {
	return first[Link](tx, collLinks, "ghl", kind+"/"+ghlID)
}

// LinkByPTD returns the link of kind whose PTD id is ptdID; ErrNotFound if unlinked.
func (tx *Tx) LinkByPTD(kind, ptdID string) (Link, error) {
	return first[Link](tx, collLinks, "ptd", kind+"/"+ptdID)
}

// ChildLinks returns the links whose ParentLinkID is parentID (a contact's task/note links).
func (tx *Tx) ChildLinks(parentID string) ([]Link, error) {
	return all[Link](tx, collLinks, func(f func([]byte) error) error { return tx.lookup(collLinks, "parent", parentID, f) })
}

// ForEachLink calls fn for every link in id order.
func (tx *Tx) ForEachLink(fn func(*Link) error) error {
	return tx.scanPrefix(collLinks, "", collect(tx, collLinks, fn))
}

// DeleteLink removes a link and its base state. Missing is ErrNotFound.
func (tx *Tx) DeleteLink(id string) error {
	if err := tx.deleteRecord(collLinks, id); err != nil {
		return err
	}
	b, err := tx.bucket(bucketBase)
	if err != nil {
		return err
	}
	return b.Delete([]byte(id))
}

// Base is the last agreed state of a link: field name → canonical value as produced by the
// diff package's normalizers (sets such as tags encoded by the caller, e.g. a sorted JSON
// array). AgreedAt is when both sides last held these values.
type Base struct {
	LinkID   string            `json:"linkId"`
	Fields   map[string]string `json:"fields"`
	AgreedAt time.Time         `json:"agreedAt"`
}

// PutBase replaces the base of b.LinkID. The link must exist (ErrNotFound otherwise).
func (tx *Tx) PutBase(b Base) error {
	if _, err := tx.GetLink(b.LinkID); err != nil {
		return fmt.Errorf("cannot store base: %w", err)
	}
	return tx.putJSON(bucketBase, b.LinkID, b)
}

// GetBase returns the base of a link; ErrNotFound if none was agreed yet.
func (tx *Tx) GetBase(linkID string) (Base, error) {
	var b Base
	return b, tx.getJSON(bucketBase, linkID, &b)
}

// Cursor is a named poll position. Value is opaque to the store (the poller's own encoding).
// Covers and Through let Check verify the cursor is not ahead of the data it covers: Through
// is the greatest record timestamp (contacts' dateUpdated, clients' updatedAt) the cursor has
// moved past, and must not exceed HighWater(Covers). Leave Covers empty for cursors that
// don't move over a record timestamp (e.g. a sweep's page token).
type Cursor struct {
	Value     string     `json:"value"`
	Covers    Collection `json:"covers,omitempty"`
	Through   time.Time  `json:"through"`
	UpdatedAt time.Time  `json:"updatedAt"`
}

// SetCursor stores the cursor name. Write it in the same Update as the page it covers.
// A zero UpdatedAt becomes now.
func (tx *Tx) SetCursor(name string, c Cursor) error {
	if name == "" {
		return fmt.Errorf("cannot set cursor: %w: empty name", ErrInvalid)
	}
	if c.UpdatedAt.IsZero() {
		c.UpdatedAt = tx.now().UTC()
	}
	return tx.putJSON(bucketCursors, name, c)
}

// Cursor returns the cursor name; ErrNotFound if it was never set (start from the beginning).
func (tx *Tx) Cursor(name string) (Cursor, error) {
	var c Cursor
	return c, tx.getJSON(bucketCursors, name, &c)
}

// Cursors returns every cursor by name, a fresh map the caller may keep and change. A
// malformed cursor is ErrCorrupt.
func (tx *Tx) Cursors() (map[string]Cursor, error) {
	out := map[string]Cursor{}
	b, err := tx.bucket(bucketCursors)
	if err != nil {
		return nil, err
	}
	err = b.ForEach(func(k, v []byte) error {
		var c Cursor
		if err := json.Unmarshal(v, &c); err != nil {
			return fmt.Errorf("cannot decode cursor %q: %w: %v", k, ErrCorrupt, err)
		}
		out[string(k)] = c
		return nil
	})
	return out, err
}

// HistoryEntry is one applied field change. Entries are append-only, in Seq order.
type HistoryEntry struct {
	Seq        uint64    `json:"seq"`
	At         time.Time `json:"at"`
	LinkID     string    `json:"linkId,omitempty"`
	RecordKind string    `json:"recordKind,omitempty"`
	RecordID   string    `json:"recordId,omitempty"`
	Field      string    `json:"field"`
	Old        string    `json:"old"`
	New        string    `json:"new"`
	Direction  string    `json:"direction"` // ghl->ptd | ptd->ghl | local
	Rule       string    `json:"rule,omitempty"`
	Cycle      uint64    `json:"cycle,omitempty"`
}

func (h *HistoryEntry) collection() Collection { return collHistory }
func (h *HistoryEntry) primaryKey() string     { return seqKey(h.Seq) }
func (h *HistoryEntry) updated() time.Time     { return time.Time{} }
func (h *HistoryEntry) quarantineKey() string  { return "" }
func (h *HistoryEntry) validate() error        { return checkNoNUL("history entry", h.LinkID) }
func (h *HistoryEntry) entries() []entry {
	if h.LinkID == "" {
		return nil
	}
	return []entry{{"link", h.LinkID}}
}

// AppendHistory appends h, assigning h.Seq (and At if zero). Write it in the same Update as
// the change it records.
func (tx *Tx) AppendHistory(h *HistoryEntry) error {
	b, err := tx.bucket([]byte(collHistory))
	if err != nil {
		return err
	}
	if h.Seq, err = b.NextSequence(); err != nil {
		return fmt.Errorf("cannot append history: %w", err)
	}
	if h.At.IsZero() {
		h.At = tx.now().UTC()
	}
	return tx.putRecord(h)
}

// History returns the entries of one link in append order.
func (tx *Tx) History(linkID string) ([]HistoryEntry, error) {
	return all[HistoryEntry](tx, collHistory, func(f func([]byte) error) error { return tx.lookup(collHistory, "link", linkID, f) })
}

// ForEachHistory calls fn for every entry in append order.
func (tx *Tx) ForEachHistory(fn func(*HistoryEntry) error) error {
	return tx.scanPrefix(collHistory, "", collect(tx, collHistory, fn))
}

// Conflict is a field held for the operator: both sides changed it differently under the
// manual rule, or one side refused the other's value (HighLevel's duplicate check). Keyed by
// (LinkID, Field): a newer conflict on the same field replaces the old one.
//
// Base is the value both sides last agreed on; NoBase says there was none (Base is then "",
// which is not an agreed empty value). Reason says why the field is held, in the operator's
// words; it is never a value.
type Conflict struct {
	LinkID     string    `json:"linkId"`
	Field      string    `json:"field"`
	Base       string    `json:"base"`
	NoBase     bool      `json:"noBase,omitempty"`
	GHL        string    `json:"ghl"`
	PTD        string    `json:"ptd"`
	Reason     string    `json:"reason,omitempty"`
	DetectedAt time.Time `json:"detectedAt"`
	Resolved   bool      `json:"resolved"`
	Resolution string    `json:"resolution,omitempty"`
	ResolvedAt time.Time `json:"resolvedAt"`
}

// PutConflict records (or replaces) the open conflict on c.LinkID/c.Field.
func (tx *Tx) PutConflict(c Conflict) error {
	if err := checkID("conflict link", c.LinkID); err != nil {
		return err
	}
	if err := checkID("conflict field", c.Field); err != nil {
		return err
	}
	if c.DetectedAt.IsZero() {
		c.DetectedAt = tx.now().UTC()
	}
	return tx.putJSON(bucketConflicts, c.LinkID+"\x00"+c.Field, c)
}

// ResolveConflict marks the conflict resolved with value; it stays listed as resolved for
// audit. Missing is ErrNotFound. The caller applies value (outbox + base) in the same Update.
func (tx *Tx) ResolveConflict(linkID, field, value string) (Conflict, error) {
	var c Conflict
	if err := tx.getJSON(bucketConflicts, linkID+"\x00"+field, &c); err != nil {
		return c, err
	}
	c.upgrade()
	c.Resolved, c.Resolution, c.ResolvedAt = true, value, tx.now().UTC()
	return c, tx.putJSON(bucketConflicts, linkID+"\x00"+field, c)
}

// Conflicts returns conflicts of linkID ("" for all), open ones only unless includeResolved.
func (tx *Tx) Conflicts(linkID string, includeResolved bool) ([]Conflict, error) {
	prefix := ""
	if linkID != "" {
		prefix = linkID + "\x00"
	}
	var out []Conflict
	err := tx.forEachJSON(bucketConflicts, prefix, func(v []byte) error {
		var c Conflict
		if err := json.Unmarshal(v, &c); err != nil {
			return fmt.Errorf("cannot decode conflict: %w: %v", ErrCorrupt, err)
		}
		c.upgrade()
		if includeResolved || !c.Resolved {
			out = append(out, c)
		}
		return nil
	})
	return out, err
}

// legacyRefusalPrefix starts the Base of a refusal conflict written before Conflict had
// Reason: the reason was stored in Base, and the base value was not kept.
const legacyRefusalPrefix = "highlevel refused: "

// upgrade reads a conflict written before Reason existed: a refusal's reason moves from Base
// to Reason, and the base is unknown. Nothing stored is rewritten until the conflict is.
func (c *Conflict) upgrade() {
	if c.Reason == "" && strings.HasPrefix(c.Base, legacyRefusalPrefix) {
		c.Reason, c.Base, c.NoBase = c.Base, "", true
	}
}

// SeenWebhook records webhook id as received at and reports whether it had been seen before
// (a duplicate to ignore). Ids stay known until PruneWebhooks removes them.
func (tx *Tx) SeenWebhook(id string, at time.Time) (dup bool, err error) {
	if err := checkID("webhook id", id); err != nil {
		return false, err
	}
	b, err := tx.bucket(bucketWebhooks)
	if err != nil {
		return false, err
	}
	if b.Get([]byte(id)) != nil {
		return true, nil
	}
	ab, err := tx.bucket(bucketWebhooksAt)
	if err != nil {
		return false, err
	}
	tk := TimeKey(at)
	if err := b.Put([]byte(id), []byte(tk)); err != nil {
		return false, fmt.Errorf("cannot record webhook %q: %w", id, err)
	}
	if err := ab.Put(indexKey(tk, []byte(id)), nil); err != nil {
		return false, fmt.Errorf("cannot record webhook %q: %w", id, err)
	}
	return false, nil
}

// PruneWebhooks forgets webhook ids received before cutoff and returns how many.
func (tx *Tx) PruneWebhooks(cutoff time.Time) (int, error) {
	b, err := tx.bucket(bucketWebhooks)
	if err != nil {
		return 0, err
	}
	ab, err := tx.bucket(bucketWebhooksAt)
	if err != nil {
		return 0, err
	}
	var dead [][]byte
	end := []byte(TimeKey(cutoff))
	cur := ab.Cursor()
	for k, _ := cur.First(); k != nil && string(k) < string(end); k, _ = cur.Next() {
		dead = append(dead, append([]byte(nil), k...))
	}
	for _, k := range dead {
		_, id, _ := splitIndexKey(k)
		if err := b.Delete(id); err != nil {
			return 0, fmt.Errorf("cannot prune webhooks: %w", err)
		}
		if err := ab.Delete(k); err != nil {
			return 0, fmt.Errorf("cannot prune webhooks: %w", err)
		}
	}
	return len(dead), nil
}

type dirtyMark struct {
	At     time.Time `json:"at"`
	Reason string    `json:"reason,omitempty"`
}

// MarkDirty queues a HighLevel contact for a child refresh (a webhook, or a changed
// dateUpdated). The contact need not be mirrored yet. Marking an already dirty contact keeps
// its original time so it does not lose its place.
func (tx *Tx) MarkDirty(contactID, reason string) error {
	if err := checkID("dirty mark", contactID); err != nil {
		return err
	}
	b, err := tx.bucket(bucketDirty)
	if err != nil {
		return err
	}
	if b.Get([]byte(contactID)) != nil {
		return nil
	}
	return tx.putJSON(bucketDirty, contactID, dirtyMark{At: tx.now().UTC(), Reason: reason})
}

// IsDirty reports whether a contact waits for a child refresh.
func (tx *Tx) IsDirty(contactID string) (bool, error) {
	b, err := tx.bucket(bucketDirty)
	if err != nil {
		return false, err
	}
	return b.Get([]byte(contactID)) != nil, nil
}

func (tx *Tx) clearDirty(contactID string) error {
	b, err := tx.bucket(bucketDirty)
	if err != nil {
		return err
	}
	return b.Delete([]byte(contactID))
}

// ChildrenRefreshed records that a contact's tasks, notes and appointments were fetched at
// at: it clears the dirty mark and moves the contact to the back of the rotating sweep. Call
// it in the same Update that stores the children.
func (tx *Tx) ChildrenRefreshed(contactID string, at time.Time) error {
	if err := tx.clearDirty(contactID); err != nil {
		return err
	}
	c, err := tx.GetGHLContact(contactID)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	c.ChildrenFetchedAt = at.UTC()
	return tx.putRecord(&c)
}

// NextChildrenDue returns up to limit contact ids whose children should be refreshed next:
// dirty contacts first (oldest mark first, ties in id order), then mirrored contacts by ChildrenFetchedAt,
// stalest (never fetched) first. No id appears twice.
func (tx *Tx) NextChildrenDue(limit int) ([]string, error) {
	type d struct {
		id string
		at time.Time
	}
	var dirty []d
	err := tx.forEachKV(bucketDirty, func(k, v []byte) error {
		var m dirtyMark
		if err := json.Unmarshal(v, &m); err != nil {
			return fmt.Errorf("cannot decode dirty mark %q: %w: %v", k, ErrCorrupt, err)
		}
		dirty = append(dirty, d{string(k), m.At})
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.SliceStable(dirty, func(i, j int) bool { return dirty[i].at.Before(dirty[j].at) })
	seen := map[string]bool{}
	var out []string
	for _, x := range dirty {
		if len(out) >= limit {
			return out, nil
		}
		out = append(out, x.id)
		seen[x.id] = true
	}
	err = tx.eachIndexKey(GHLContacts, "children", "", "", func(k []byte) error {
		if len(out) >= limit {
			return ErrStop
		}
		_, pk, ok := splitIndexKey(k)
		if !ok {
			return fmt.Errorf("cannot read children index: %w: malformed key %q", ErrCorrupt, k)
		}
		if id := string(pk); !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
		return nil
	})
	if err != nil && !errors.Is(err, ErrStop) {
		return nil, err
	}
	return out, nil
}

// DirtyCount returns how many contacts wait for a child refresh.
func (tx *Tx) DirtyCount() (int, error) {
	b, err := tx.bucket(bucketDirty)
	if err != nil {
		return 0, err
	}
	return b.Stats().KeyN, nil
}

type reminderMark struct {
	ReminderID string    `json:"reminderId"`
	SentAt     time.Time `json:"sentAt"`
}

// ReminderSent reports whether a reminder for task taskID due at due was already sent, and
// its reminder id. A changed due date is a new reminder.
func (tx *Tx) ReminderSent(taskID string, due time.Time) (reminderID string, sent bool, err error) {
	var m reminderMark
	err = tx.getJSON(bucketReminders, taskID+"\x00"+TimeKey(due), &m)
	if errors.Is(err, ErrNotFound) {
		return "", false, nil
	}
	return m.ReminderID, err == nil, err
}

// RecordReminder remembers that the reminder for (taskID, due) was sent as reminderID.
func (tx *Tx) RecordReminder(taskID string, due time.Time, reminderID string) error {
	if err := checkID("reminder task", taskID); err != nil {
		return err
	}
	return tx.putJSON(bucketReminders, taskID+"\x00"+TimeKey(due), reminderMark{ReminderID: reminderID, SentAt: tx.now().UTC()})
}

// GetToken returns the opaque token blob stored for location; ErrNotFound if none. The blob
// holds secrets: callers must not log it.
func (tx *Tx) GetToken(location string) ([]byte, error) {
	b, err := tx.bucket(bucketTokens)
	if err != nil {
		return nil, err
	}
	v := b.Get([]byte(location))
	if v == nil {
		return nil, fmt.Errorf("cannot get token for location %q: %w", location, ErrNotFound)
	}
	return append([]byte(nil), v...), nil
}

// PutToken replaces the token blob of location. It is durable (fsynced) when the enclosing
// Update returns nil, so a rotated refresh token can be written before it is used.
func (tx *Tx) PutToken(location string, blob []byte) error {
	if err := checkID("token location", location); err != nil {
		return err
	}
	b, err := tx.bucket(bucketTokens)
	if err != nil {
		return err
	}
	if err := b.Put([]byte(location), append([]byte(nil), blob...)); err != nil {
		return fmt.Errorf("cannot put token for location %q: %w", location, err)
	}
	return nil
}

// Stats returns the number of entries per collection and per bookkeeping bucket, e.g.
// "ghl.contacts", "links", "outbox", "outbox.dead", "conflicts.open", "dirty". It walks the
// buckets' pages, so it costs time proportional to the file's size, not to the record count.
func (tx *Tx) Stats() (map[string]int, error) {
	out := map[string]int{}
	for _, c := range tx.st.kinds.indexed() {
		b, err := tx.bucket([]byte(c))
		if err != nil {
			return nil, err
		}
		out[string(c)] = b.Stats().KeyN
	}
	for _, name := range [][]byte{bucketBase, bucketCursors, bucketQuarantine, bucketWebhooks, bucketDirty, bucketReminders} {
		b, err := tx.bucket(name)
		if err != nil {
			return nil, err
		}
		out[string(name)] = b.Stats().KeyN
	}
	st, err := tx.OutboxStats()
	if err != nil {
		return nil, err
	}
	out["outbox.dead"] = st.Dead
	open, err := tx.Conflicts("", false)
	if err != nil {
		return nil, err
	}
	out["conflicts.open"] = len(open)
	return out, nil
}

func (tx *Tx) putJSON(bucket []byte, key string, v any) error {
	b, err := tx.bucket(bucket)
	if err != nil {
		return err
	}
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("cannot encode %s %q: %w", bucket, key, err)
	}
	if err := b.Put([]byte(key), data); err != nil {
		return fmt.Errorf("cannot put %s %q: %w", bucket, key, err)
	}
	return nil
}

func (tx *Tx) getJSON(bucket []byte, key string, dst any) error {
	b, err := tx.bucket(bucket)
	if err != nil {
		return err
	}
	v := b.Get([]byte(key))
	if v == nil {
		return fmt.Errorf("cannot get %s %q: %w", bucket, key, ErrNotFound)
	}
	if err := json.Unmarshal(v, dst); err != nil {
		return fmt.Errorf("cannot decode %s %q: %w: %v", bucket, key, ErrCorrupt, err)
	}
	return nil
}

func (tx *Tx) forEachJSON(bucket []byte, prefix string, fn func(v []byte) error) error {
	b, err := tx.bucket(bucket)
	if err != nil {
		return err
	}
	p := []byte(prefix)
	cur := b.Cursor()
	for k, v := cur.Seek(p); k != nil && string(k[:min(len(k), len(p))]) == prefix; k, v = cur.Next() {
		if err := fn(v); err != nil {
			return err
		}
	}
	return nil
}

func (tx *Tx) forEachKV(bucket []byte, fn func(k, v []byte) error) error {
	b, err := tx.bucket(bucket)
	if err != nil {
		return err
	}
	return b.ForEach(fn)
}
