package tombstones

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"strconv"
	"sync"
)

// Fingerprint is HMAC-SHA-256(subject key, kind || 0x00 || normalized value).
type Fingerprint [sha256.Size]byte

// String returns the fingerprint in hex.
func (f Fingerprint) String() string { return hex.EncodeToString(f[:]) }

// MarshalText encodes the fingerprint in hex.
func (f Fingerprint) MarshalText() ([]byte, error) {
	b := make([]byte, hex.EncodedLen(len(f)))
	hex.Encode(b, f[:])
	return b, nil
}

// UnmarshalText decodes a hex fingerprint.
func (f *Fingerprint) UnmarshalText(b []byte) error {
	if hex.DecodedLen(len(b)) != len(f) {
		return fmt.Errorf("fingerprint: want %d hex digits, got %d", 2*len(f), len(b))
	}
	if _, err := hex.Decode(f[:], b); err != nil {
		return fmt.Errorf("fingerprint: %w", err)
	}
	return nil
}

// SubjectKeySize is the size of a subject key in bytes (256 bits).
const SubjectKeySize = 32

// SubjectKey is the secret under which identifiers are fingerprinted. One
// agent uses one subject key in all its repositories, so a tombstone's
// fingerprints are valid in all of them. It is safe for concurrent use.
type SubjectKey struct {
	raw  [SubjectKeySize]byte
	pool sync.Pool // *hmacState
	// q0 and q1 are the SipHash key of quick tags (see QuickTag).
	q0, q1 uint64
}

// hmacState is reusable per-goroutine scratch: a keyed HMAC (whose Reset
// restores the precomputed inner pad state) and the message buffer.
type hmacState struct {
	h   hash.Hash
	msg []byte
	sum [sha256.Size]byte

	// The last phone tail prefilter verdict of tailM: a spelled-out
	// number yields several candidates that end in the same digits. Like
	// msg, it holds only what the caller has in memory anyway.
	tailM   *Matcher
	tailKey [maxTail + 1]byte
	tailOK  bool
}

// GenerateSubjectKey returns a new random subject key.
func GenerateSubjectKey() (*SubjectKey, error) {
	var raw [SubjectKeySize]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return nil, fmt.Errorf("generating subject key: %w", err)
	}
	return newSubjectKey(raw), nil
}

// SubjectKeyFromBytes returns the subject key with the given raw bytes.
func SubjectKeyFromBytes(b []byte) (*SubjectKey, error) {
	if len(b) != SubjectKeySize {
		return nil, fmt.Errorf("subject key: want %d bytes, got %d", SubjectKeySize, len(b))
	}
	var raw [SubjectKeySize]byte
	copy(raw[:], b)
	if raw == ([SubjectKeySize]byte{}) {
		return nil, errors.New("subject key: all zero")
	}
	return newSubjectKey(raw), nil
}

func newSubjectKey(raw [SubjectKeySize]byte) *SubjectKey {
	k := &SubjectKey{raw: raw}
	m := hmac.New(sha256.New, k.raw[:])
	m.Write([]byte(quickKeyLabel))
	qk := m.Sum(nil)
	k.q0, k.q1 = binary.LittleEndian.Uint64(qk[:8]), binary.LittleEndian.Uint64(qk[8:16])
	k.pool.New = func() any {
		return &hmacState{h: hmac.New(sha256.New, k.raw[:]), msg: make([]byte, 0, 128)}
	}
	return k
}

// Bytes returns a copy of the raw key.
func (k *SubjectKey) Bytes() []byte { return append([]byte(nil), k.raw[:]...) }

// Equal reports whether k and o are the same key.
func (k *SubjectKey) Equal(o *SubjectKey) bool {
	return o != nil && hmac.Equal(k.raw[:], o.raw[:])
}

// ID names the key without revealing it: the first 16 bytes of
// HMAC(key, "lethe subject key id") in hex. Tombstones carry it so a
// tombstone made under another key is recognised instead of silently never
// matching.
func (k *SubjectKey) ID() string {
	m := hmac.New(sha256.New, k.raw[:])
	m.Write([]byte("lethe subject key id"))
	return hex.EncodeToString(m.Sum(nil)[:16])
}

// Fingerprint returns the fingerprint of an already normalized value.
func (k *SubjectKey) Fingerprint(kind Kind, normalized string) Fingerprint {
	st := k.get(kind)
	st.msg = append(st.msg, normalized...)
	fp := k.finish(st)
	k.pool.Put(st)
	return fp
}

// get returns pooled scratch whose msg already holds kind || 0x00.
func (k *SubjectKey) get(kind Kind) *hmacState {
	st := k.pool.Get().(*hmacState)
	st.msg = append(append(st.msg[:0], kind...), 0)
	return st
}

// finish computes the HMAC of st.msg.
func (k *SubjectKey) finish(st *hmacState) Fingerprint {
	st.h.Reset()
	st.h.Write(st.msg)
	return Fingerprint(st.h.Sum(st.sum[:0]))
}

// Fingerprint normalizes raw as kind and fingerprints it under key.
func (n *Normalizer) Fingerprint(key *SubjectKey, kind Kind, raw string) (Fingerprint, error) {
	st := key.get(kind)
	defer key.pool.Put(st)
	var err error
	st.msg, err = n.appendNormalized(st.msg, kind, raw)
	if err != nil {
		return Fingerprint{}, err
	}
	return key.finish(st), nil
}

// quickKeyLabel derives the quick tag key from the subject key.
const quickKeyLabel = "lethe quick tag key v1"

// QuickTag is a 64-bit keyed tag of an identifier: SipHash-2-4 of kind ||
// 0x00 || normalized value under a key derived from the subject key by
// HMAC. It costs a tenth of a fingerprint, so scanners and the subject
// index reject candidates by it and compute the fingerprint only on a hit;
// it is no name for a tombstone (distinct identifiers may share one).
type QuickTag uint64

// MarshalText encodes the tag as 16 hex digits (JSON numbers beyond 2^53
// do not survive every reader).
func (q QuickTag) MarshalText() ([]byte, error) {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(q))
	return hex.AppendEncode(nil, b[:]), nil
}

// UnmarshalText decodes a tag of 16 hex digits.
func (q *QuickTag) UnmarshalText(b []byte) error {
	if len(b) != 16 {
		return fmt.Errorf("quick tag: want 16 hex digits, got %d", len(b))
	}
	v, err := strconv.ParseUint(string(b), 16, 64)
	if err != nil {
		return fmt.Errorf("quick tag: not hex")
	}
	*q = QuickTag(v)
	return nil
}

// QuickTag returns the quick tag of an already normalized value.
func (k *SubjectKey) QuickTag(kind Kind, normalized string) QuickTag {
	st := k.get(kind)
	st.msg = append(st.msg, normalized...)
	q := k.quick(st.msg)
	k.pool.Put(st)
	return q
}

// quick is the quick tag of a message as get and finish build it.
func (k *SubjectKey) quick(msg []byte) QuickTag {
	return QuickTag(sipHash24(k.q0, k.q1, msg))
}
