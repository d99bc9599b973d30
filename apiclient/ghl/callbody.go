package ghl

import "encoding/json"

// payload encodes the call's body: its form when set (the OAuth routes take
// application/x-www-form-urlencoded), else body as JSON; nil when it has neither.
func (cl call) payload() ([]byte, error) {
	switch {
	case cl.form != nil:
		return []byte(cl.form.Encode()), nil
	case cl.body != nil:
		return json.Marshal(cl.body)
	}
	return nil, nil
}

// contentType is the Content-Type of the call's payload.
func (cl call) contentType() string {
	if cl.form != nil {
		return "application/x-www-form-urlencoded"
	}
	return "application/json"
}
