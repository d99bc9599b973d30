package ghlsim

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"

	"ptsync/apiclient/ghlwire"
)

// refuseWrongLocation answers 403 MsgNoLocationAccess, as HighLevel does, when the request
// names another location than the one its token belongs to (this one), and counts it in
// Counters.WrongLocation. It reports whether it answered. The request names a location by
// the locationId of its query or JSON body, or by the contact of its path when that contact
// lives in another location of the company (a contact no location holds stays a 404).
func (s *Server) refuseWrongLocation(w http.ResponseWriter, r *http.Request, rt *route, vals map[string]string) bool {
	named := s.namedLocation(r, rt, vals)
	if named == "" || named == s.opts.LocationID {
		return false
	}
	s.ctr.wrongLocation(rt.write)
	s.log.Trace("request names another location", "route", rt.key(), "named", named)
	s.writeErr(w, &Error{Status: 403, Messages: []string{ghlwire.MsgNoLocationAccess}})
	return true
}

// bodyLocationRoutes are the routes whose JSON body carries a locationId.
var bodyLocationRoutes = map[string]bool{
	"POST /contacts/": true, "POST /contacts/upsert": true, "POST /contacts/search": true,
}

// namedLocation returns the location r names, or "" when it names none (or one the checks of
// the operation itself refuse, such as an empty locationId). A body it reads is put back.
func (s *Server) namedLocation(r *http.Request, rt *route, vals map[string]string) string {
	if loc := r.URL.Query().Get("locationId"); loc != "" {
		return loc
	}
	if bodyLocationRoutes[rt.key()] && r.Body != nil {
		data, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		r.Body = io.NopCloser(bytes.NewReader(data))
		var b struct {
			LocationID string `json:"locationId"`
		}
		if err == nil && json.Unmarshal(data, &b) == nil && b.LocationID != "" {
			return b.LocationID
		}
		return ""
	}
	id := vals["contactId"]
	if id == "" || s.co == nil {
		return ""
	}
	s.mu.RLock()
	_, here := s.st.contacts[id]
	s.mu.RUnlock()
	if here {
		return ""
	}
	return s.co.ownerOf(id, s.opts.LocationID)
}
