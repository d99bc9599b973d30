package store

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Value encoding of the mirrored records (schema 3).
//
// A mirrored record (the eight Collections) is stored as
//
//	0x01  uvarint(len(header))  header  raw
//
// where header holds the normalized fields in a fixed order per type (strings as
// uvarint(len)+bytes, string lists as uvarint(count)+strings, times as one length byte
// followed by time.Time's binary form, 0 for the zero time, booleans as one byte) and raw is
// the record's Raw JSON, compacted, to the end of the value. The normalized part decodes
// without touching raw, so scans, index maintenance and Check do not pay for the HighLevel
// object; and a header's strings share one allocation.
//
// Links, history and outbox entries stay JSON. A value starting with '{' is the schema-2
// JSON form and is still decoded (the migration to schema 3 rewrites every record in one
// transaction, so a current file has none; accepting it keeps a read of an odd value safe).
const binFormat = 0x01

// errShort is what a truncated or overlong header reports (wrapped with ErrCorrupt by callers).
var errShort = errors.New("truncated record value")

// binRecord is a record with the schema-3 binary form.
type binRecord interface {
	record
	appendHeader(e *enc)
	readHeader(d *dec)
	rawField() *json.RawMessage
}

// enc appends a header.
type enc struct{ b []byte }

func (e *enc) str(s string) {
	e.b = binary.AppendUvarint(e.b, uint64(len(s)))
	e.b = append(e.b, s...)
}

func (e *enc) strs(ss []string) {
	e.b = binary.AppendUvarint(e.b, uint64(len(ss)))
	for _, s := range ss {
		e.str(s)
	}
}

func (e *enc) boolean(v bool) {
	if v {
		e.b = append(e.b, 1)
	} else {
		e.b = append(e.b, 0)
	}
}

// time stores the instant and its zone offset like time.Time.MarshalBinary does (what JSON's
// RFC 3339 form kept too); the zero time is one 0 byte.
func (e *enc) time(t time.Time) error {
	if t.IsZero() {
		e.b = append(e.b, 0)
		return nil
	}
	at := len(e.b)
	e.b = append(e.b, 0)
	var err error
	if e.b, err = t.AppendBinary(e.b); err != nil {
		return err
	}
	e.b[at] = byte(len(e.b) - at - 1)
	return nil
}

// dec reads a header. Strings are substrings of s, one copy of the whole header made once.
type dec struct {
	b   []byte // the header bytes (valid for the transaction)
	s   string // string(b), shared by every decoded string
	i   int
	err error
}

func (d *dec) uvarint() int {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b[d.i:])
	if n <= 0 || v > uint64(len(d.b)-d.i-n) {
		d.err = errShort
		return 0
	}
	d.i += n
	return int(v)
}

func (d *dec) str() string {
	n := d.uvarint()
	if d.err != nil || n == 0 {
		return ""
	}
	s := d.s[d.i : d.i+n]
	d.i += n
	return s
}

func (d *dec) strs() []string {
	n := d.uvarint()
	if d.err != nil || n == 0 {
		return nil
	}
	out := make([]string, n) // n <= remaining bytes, so a corrupt count cannot allocate much
	for i := range out {
		out[i] = d.str()
	}
	return out
}

func (d *dec) boolean() bool {
	if d.err != nil || d.i >= len(d.b) {
		d.err = errShort
		return false
	}
	v := d.b[d.i]
	d.i++
	return v != 0
}

func (d *dec) time() time.Time {
	if d.err != nil || d.i >= len(d.b) {
		d.err = errShort
		return time.Time{}
	}
	n := int(d.b[d.i])
	d.i++
	if n == 0 {
		return time.Time{}
	}
	if n > len(d.b)-d.i {
		d.err = errShort
		return time.Time{}
	}
	var t time.Time
	if err := t.UnmarshalBinary(d.b[d.i : d.i+n]); err != nil {
		d.err = err
	}
	d.i += n
	return t
}

// encodeValue renders r in the stored form: binary header and compacted raw JSON for the
// mirrored records, JSON for the rest. Invalid raw JSON is an error, as it was for the JSON
// form (json.Marshal validated it).
func encodeValue(r record) ([]byte, error) { return appendValue(nil, r) }

// appendValue is encodeValue appending to dst (the staging bucket's prefix).
func appendValue(dst []byte, r record) ([]byte, error) {
	br, ok := r.(binRecord)
	if !ok {
		j, err := json.Marshal(r)
		if err != nil {
			return nil, err
		}
		return append(dst, j...), nil
	}
	var rb []byte
	if raw := *br.rawField(); len(raw) > 0 {
		// Stored raw is what json.Marshal of the RawMessage gives (validated, compacted,
		// HTML-escaped): the bytes schema 2 kept inside its JSON, so Raw reads back the same.
		// Raw that is already in that form (the usual case: HighLevel sends compact JSON) is
		// recognised in one cheap pass and kept as is.
		if canonicalJSON(raw) {
			rb = raw
		} else {
			var err error
			if rb, err = json.Marshal(raw); err != nil {
				return nil, fmt.Errorf("raw is not valid JSON: %w", err)
			}
		}
	}
	var hbuf [256]byte
	e := enc{b: hbuf[:0]}
	br.appendHeader(&e)
	if e.b == nil {
		return nil, errors.New("cannot encode a time: its zone offset is out of range")
	}
	out := dst
	if out == nil {
		out = make([]byte, 0, 1+binary.MaxVarintLen32+len(e.b)+len(rb))
	}
	out = append(out, binFormat)
	out = binary.AppendUvarint(out, uint64(len(e.b)))
	out = append(out, e.b...)
	return append(out, rb...), nil
}

// decodeValue fills dst (a pointer to a record type) from a stored value. With skipRaw the
// record's Raw is left nil and its bytes are not read. Errors are not wrapped.
func decodeValue(v []byte, dst any, skipRaw bool) error {
	br, ok := dst.(binRecord)
	if !ok || len(v) == 0 || v[0] != binFormat {
		return json.Unmarshal(v, dst) // links, history, outbox; or a schema-2 value
	}
	n, w := binary.Uvarint(v[1:])
	if w <= 0 || n > uint64(len(v)-1-w) {
		return errShort
	}
	hdr := v[1+w : 1+w+int(n)]
	d := dec{b: hdr, s: string(hdr)}
	br.readHeader(&d)
	if d.err == nil && d.i != len(hdr) {
		d.err = fmt.Errorf("record header has %d unread bytes", len(hdr)-d.i)
	}
	if d.err != nil {
		return d.err
	}
	raw := br.rawField()
	*raw = nil
	if rest := v[1+w+int(n):]; len(rest) > 0 && !skipRaw {
		*raw = bytes.Clone(rest)
	}
	return nil
}

// rawOf returns the raw JSON bytes of a stored value without decoding it (nil if none); for
// Check, which validates them.
func rawOf(v []byte) []byte {
	if len(v) == 0 || v[0] != binFormat {
		return nil
	}
	n, w := binary.Uvarint(v[1:])
	if w <= 0 || n > uint64(len(v)-1-w) {
		return nil
	}
	return v[1+w+int(n):]
}

// The headers. Field order is the file format: append new fields at the end only, with a
// schema migration.

func (r *GHLContact) rawField() *json.RawMessage { return &r.Raw }
func (r *GHLContact) appendHeader(e *enc) {
	e.str(r.ID)
	e.str(r.Email)
	e.str(r.Phone)
	e.str(r.FirstName)
	e.str(r.LastName)
	e.strs(r.Tags)
	e.times(r.DateAdded, r.DateUpdated, r.FetchedAt, r.ChildrenFetchedAt)
}
func (r *GHLContact) readHeader(d *dec) {
	r.ID, r.Email, r.Phone, r.FirstName, r.LastName = d.str(), d.str(), d.str(), d.str(), d.str()
	r.Tags = d.strs()
	r.DateAdded, r.DateUpdated, r.FetchedAt, r.ChildrenFetchedAt = d.time(), d.time(), d.time(), d.time()
}

func (r *PTDClient) rawField() *json.RawMessage { return &r.Raw }
func (r *PTDClient) appendHeader(e *enc) {
	e.str(r.ID)
	e.str(r.Email)
	e.str(r.Phone)
	e.str(r.FirstName)
	e.str(r.LastName)
	e.strs(r.Tags)
	e.strs(r.Groups)
	e.strs(r.Packages)
	e.str(r.Access)
	e.str(r.ETag)
	e.times(r.CreatedAt, r.UpdatedAt, r.FetchedAt)
}
func (r *PTDClient) readHeader(d *dec) {
	r.ID, r.Email, r.Phone, r.FirstName, r.LastName = d.str(), d.str(), d.str(), d.str(), d.str()
	r.Tags, r.Groups, r.Packages = d.strs(), d.strs(), d.strs()
	r.Access, r.ETag = d.str(), d.str()
	r.CreatedAt, r.UpdatedAt, r.FetchedAt = d.time(), d.time(), d.time()
}

// times appends several times; a time that cannot be encoded (an offset beyond ±546 hours)
// sets e.b to nil, which encodeValue reports.
func (e *enc) times(ts ...time.Time) {
	for _, t := range ts {
		if e.b == nil {
			return
		}
		if err := e.time(t); err != nil {
			e.b = nil
		}
	}
}

var (
	_ binRecord = (*GHLContact)(nil)
	_ binRecord = (*PTDClient)(nil)
)
