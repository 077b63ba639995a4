package formats

// jsonStatus is what checking a JSON text found.
type jsonStatus int

const (
	jsonInvalid jsonStatus = iota // a syntax error
	jsonCut                       // no error, but the text ends inside the document
	jsonValid                     // one complete document, then only whitespace
)

// validJSON reports whether b is one valid JSON document (RFC 8259), as
// json.Valid does but without its nesting limit: 100,000 nested arrays are
// valid JSON, and checking them is linear in time and needs one byte of
// memory per open level.
func validJSON(b []byte) bool { return checkJSON(b) == jsonValid }

// jsonPrefix checks the head of a file: a document cut by the end of the
// head is jsonCut, not invalid.
func jsonPrefix(b []byte) jsonStatus { return checkJSON(b) }

func checkJSON(b []byte) jsonStatus {
	var stack []byte // the open containers, '[' or '{'
	i := skipJSONSpace(b, 0)
	for {
		// A value starts at i.
		if i >= len(b) {
			return jsonCut
		}
		var st jsonStatus
		switch c := b[i]; {
		case c == '[' || c == '{':
			stack = append(stack, c)
			i = skipJSONSpace(b, i+1)
			if i >= len(b) {
				return jsonCut
			}
			if b[i] == c+2 { // ']' and '}' are two past '[' and '{'
				stack = stack[:len(stack)-1]
				i, st = i+1, jsonValid
				break
			}
			if c == '{' {
				if i, st = jsonKey(b, i); st != jsonValid {
					return st
				}
			}
			continue
		case c == '"':
			i, st = jsonString(b, i)
		case c == 't':
			i, st = jsonLiteral(b, i, "true")
		case c == 'f':
			i, st = jsonLiteral(b, i, "false")
		case c == 'n':
			i, st = jsonLiteral(b, i, "null")
		default:
			i, st = jsonNumber(b, i)
		}
		if st == jsonInvalid || st == jsonCut && i < len(b) {
			return jsonInvalid
		}
		if st == jsonCut {
			return jsonCut
		}
		// After a value: close containers, or go on to the next value.
		for {
			i = skipJSONSpace(b, i)
			if len(stack) == 0 {
				if i == len(b) {
					return jsonValid
				}
				return jsonInvalid
			}
			if i >= len(b) {
				return jsonCut
			}
			top := stack[len(stack)-1]
			if b[i] == top+2 {
				stack = stack[:len(stack)-1]
				i++
				continue
			}
			if b[i] != ',' {
				return jsonInvalid
			}
			i = skipJSONSpace(b, i+1)
			if top == '{' {
				if i, st = jsonKey(b, i); st != jsonValid {
					return st
				}
			}
			break
		}
	}
}

// jsonKey checks `"key" :` at b[i] and returns where the value starts.
func jsonKey(b []byte, i int) (int, jsonStatus) {
	if i >= len(b) {
		return i, jsonCut
	}
	if b[i] != '"' {
		return i, jsonInvalid
	}
	i, st := jsonString(b, i)
	if st != jsonValid {
		return i, st
	}
	i = skipJSONSpace(b, i)
	if i >= len(b) {
		return i, jsonCut
	}
	if b[i] != ':' {
		return i, jsonInvalid
	}
	return skipJSONSpace(b, i+1), jsonValid
}

// jsonString checks the string at b[i] (a '"') and returns its end.
func jsonString(b []byte, i int) (int, jsonStatus) {
	for i++; i < len(b); i++ {
		switch c := b[i]; {
		case c == '"':
			return i + 1, jsonValid
		case c < 0x20:
			return i, jsonInvalid
		case c == '\\':
			i++
			if i >= len(b) {
				return i, jsonCut
			}
			switch b[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				for j := 0; j < 4; j++ {
					i++
					if i >= len(b) {
						return i, jsonCut
					}
					if !isHex(b[i]) {
						return i, jsonInvalid
					}
				}
			default:
				return i, jsonInvalid
			}
		}
	}
	return i, jsonCut
}

// jsonLiteral checks true, false or null at b[i].
func jsonLiteral(b []byte, i int, lit string) (int, jsonStatus) {
	for j := 0; j < len(lit); j++ {
		if i+j >= len(b) {
			return i + j, jsonCut
		}
		if b[i+j] != lit[j] {
			return i + j, jsonInvalid
		}
	}
	return i + len(lit), jsonValid
}

// jsonNumber checks the number at b[i]. A number that is complete at the
// end of b is valid; one that could still go on to be (a lone "-", "1.",
// "1e") is cut.
func jsonNumber(b []byte, i int) (int, jsonStatus) {
	digits := func() (int, bool) {
		s := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		return i - s, i < len(b)
	}
	if i < len(b) && b[i] == '-' {
		i++
	}
	if i >= len(b) {
		return i, jsonCut
	}
	switch {
	case b[i] == '0':
		i++
	case b[i] >= '1' && b[i] <= '9':
		digits()
	default:
		return i, jsonInvalid
	}
	if i < len(b) && b[i] == '.' {
		i++
		if n, more := digits(); n == 0 {
			if !more {
				return i, jsonCut
			}
			return i, jsonInvalid
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if n, more := digits(); n == 0 {
			if !more {
				return i, jsonCut
			}
			return i, jsonInvalid
		}
	}
	return i, jsonValid
}
