package tombstones

// quickSet is a set of quick tags: open addressing with linear probing,
// at most half full. Tags are PRF outputs, so their low bits index the
// table as they are. A lookup that misses, the matcher's common case,
// mostly ends at the first empty slot.
type quickSet struct {
	slots   []uint64 // 0 marks an empty slot
	n       int
	hasZero bool // the tag 0, which cannot be stored in slots
}

func (s *quickSet) add(t uint64) {
	if t == 0 {
		s.hasZero = true
		return
	}
	if 2*(s.n+1) > len(s.slots) {
		s.grow()
	}
	if s.insert(t) {
		s.n++
	}
}

// insert puts t into slots; false if it was there.
func (s *quickSet) insert(t uint64) bool {
	mask := uint64(len(s.slots) - 1)
	for i := t & mask; ; i = (i + 1) & mask {
		switch s.slots[i] {
		case 0:
			s.slots[i] = t
			return true
		case t:
			return false
		}
	}
}

func (s *quickSet) grow() {
	old := s.slots
	s.slots = make([]uint64, max(16, 2*len(old)))
	for _, t := range old {
		if t != 0 {
			s.insert(t)
		}
	}
}

func (s *quickSet) has(t uint64) bool {
	if t == 0 {
		return s.hasZero
	}
	if s.n == 0 {
		return false
	}
	mask := uint64(len(s.slots) - 1)
	for i := t & mask; ; i = (i + 1) & mask {
		switch s.slots[i] {
		case 0:
			return false
		case t:
			return true
		}
	}
}
