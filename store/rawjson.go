package store

// canonicalJSON reports whether b is one valid JSON value already in the form json.Marshal
// gives a json.RawMessage: compact (no whitespace outside strings) and with nothing it would
// escape (<, >, & and U+2028/U+2029 inside strings). Such raw JSON is stored as is; anything
// else, valid or not, goes through json.Marshal, which compacts, escapes or refuses it. A
// false answer is always safe; a true one must mean json.Marshal would return b unchanged
// (FuzzCanonicalJSON checks it). It is a single pass without allocation, several times
// cheaper than encoding/json's scanner.
func canonicalJSON(b []byte) bool {
	i, ok := canonValue(b, 0, 0)
	return ok && i == len(b)
}

// maxCanonDepth bounds nesting; deeper values take the json.Marshal path (which has its own
// limit).
const maxCanonDepth = 200

func canonValue(b []byte, i, depth int) (int, bool) {
	if i >= len(b) || depth > maxCanonDepth {
		return i, false
	}
	switch c := b[i]; {
	case c == '{':
		i++
		if i < len(b) && b[i] == '}' {
			return i + 1, true
		}
		for {
			if i >= len(b) || b[i] != '"' {
				return i, false
			}
			var ok bool
			if i, ok = canonString(b, i); !ok || i >= len(b) || b[i] != ':' {
				return i, false
			}
			if i, ok = canonValue(b, i+1, depth+1); !ok || i >= len(b) {
				return i, false
			}
			switch b[i] {
			case ',':
				i++
			case '}':
				return i + 1, true
			default:
				return i, false
			}
		}
	case c == '[':
		i++
		if i < len(b) && b[i] == ']' {
			return i + 1, true
		}
		for {
			var ok bool
			if i, ok = canonValue(b, i, depth+1); !ok || i >= len(b) {
				return i, false
			}
			switch b[i] {
			case ',':
				i++
			case ']':
				return i + 1, true
			default:
				return i, false
			}
		}
	case c == '"':
		return canonString(b, i)
	case c == 't':
		return canonLiteral(b, i, "true")
	case c == 'f':
		return canonLiteral(b, i, "false")
	case c == 'n':
		return canonLiteral(b, i, "null")
	case c == '-' || c >= '0' && c <= '9':
		return canonNumber(b, i)
	}
	return i, false
}

func canonLiteral(b []byte, i int, lit string) (int, bool) {
	if len(b)-i < len(lit) || string(b[i:i+len(lit)]) != lit {
		return i, false
	}
	return i + len(lit), true
}

func canonString(b []byte, i int) (int, bool) {
	i++ // opening quote
	for i < len(b) {
		switch c := b[i]; {
		case c == '"':
			return i + 1, true
		case c == '\\':
			if i+1 >= len(b) {
				return i, false
			}
			switch b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > len(b) {
					return i, false
				}
				for _, h := range b[i+2 : i+6] {
					if !(h >= '0' && h <= '9' || h >= 'a' && h <= 'f' || h >= 'A' && h <= 'F') {
						return i, false
					}
				}
				i += 6
			default:
				return i, false
			}
		case c < 0x20, c == '<', c == '>', c == '&':
			return i, false // invalid, or escaped by json.Marshal
		case c == 0xE2 && i+2 < len(b) && b[i+1] == 0x80 && b[i+2]&^1 == 0xA8:
			return i, false // U+2028/U+2029: escaped by json.Marshal
		default:
			i++
		}
	}
	return i, false
}

func canonNumber(b []byte, i int) (int, bool) {
	digits := func(i int) (int, bool) {
		start := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		return i, i > start
	}
	if b[i] == '-' {
		i++
	}
	if i < len(b) && b[i] == '0' {
		i++
	} else {
		var ok bool
		if i, ok = digits(i); !ok {
			return i, false
		}
	}
	if i < len(b) && b[i] == '.' {
		var ok bool
		if i, ok = digits(i + 1); !ok {
			return i, false
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		var ok bool
		if i, ok = digits(i); !ok {
			return i, false
		}
	}
	return i, true
}
