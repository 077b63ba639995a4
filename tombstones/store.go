package tombstones

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"time"
)

// Store holds lethe's own objects in a repository, encrypted with the
// repository's master key. *repository.Repository satisfies it. Names are
// relative to the "lethe/" prefix ("tombstones/<id>"); ListLethe passes
// full names to fn. LoadLethe's error wraps fs.ErrNotExist for a missing
// object.
type Store interface {
	SaveLethe(ctx context.Context, name string, data []byte) error
	LoadLethe(ctx context.Context, name string) ([]byte, error)
	ListLethe(ctx context.Context, prefix string, fn func(name string) error) error
}

// Repo is a Store with the name used for it in messages and progress
// records (its location or configured name).
type Repo struct {
	Name  string
	Store Store
}

// Object names below lethe/.
const (
	SubjectKeyName   = "keys/subject"
	TombstonesPrefix = "tombstones/"
	revokedInfix     = ".revoked-"
)

func tombstoneName(id string) string { return TombstonesPrefix + id }

func revocationName(r Revocation) string {
	return TombstonesPrefix + r.Tombstone + revokedInfix + r.ID
}

// object is the stored form of tombstones and revocations, both in
// repositories and as lines of the local log.
type object struct {
	Version    int         `json:"version"`
	Type       string      `json:"type"`
	Tombstone  *Tombstone  `json:"tombstone,omitempty"`
	Revocation *Revocation `json:"revocation,omitempty"`
	Progress   *Progress   `json:"progress,omitempty"`
}

const (
	objTombstone  = "tombstone"
	objRevocation = "revocation"
	objProgress   = "progress"
)

// Object versions. Version 2 tombstones carry quick tags; they are
// written only when they do, so that a tombstone without them is still
// read by a lethe that knows version 1 alone.
const (
	objVersion      = 1
	objVersionQuick = 2
)

func tombstoneObject(t Tombstone) object {
	s := t.stored()
	v := objVersion
	if quickEntries(s.Entries) {
		v = objVersionQuick
	}
	return object{Version: v, Type: objTombstone, Tombstone: &s}
}

// quickEntries reports whether any entry carries a quick tag.
func quickEntries(entries []Entry) bool {
	for _, e := range entries {
		if e.Quick != nil || e.QuickTail != nil {
			return true
		}
	}
	return false
}

func revocationObject(r Revocation) object {
	return object{Version: objVersion, Type: objRevocation, Revocation: &r}
}

// name returns the object's name below lethe/ ("" for progress records,
// which live only in the log for now).
func (o object) name() string {
	switch o.Type {
	case objTombstone:
		return tombstoneName(o.Tombstone.ID)
	case objRevocation:
		return revocationName(*o.Revocation)
	}
	return ""
}

func decodeObject(data []byte) (object, error) {
	var o object
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&o); err != nil {
		return object{}, err
	}
	switch {
	case o.Version > objVersionQuick:
		return object{}, fmt.Errorf("unsupported version %d: written by a newer lethe, upgrade lethe to read it", o.Version)
	case o.Version < objVersion:
		return object{}, fmt.Errorf("unsupported version %d", o.Version)
	case o.Version == objVersion && o.Tombstone != nil && quickEntries(o.Tombstone.Entries):
		return object{}, errors.New("version 1 object with quick tags")
	}
	switch o.Type {
	case objTombstone:
		if o.Tombstone == nil || !ValidID(o.Tombstone.ID) {
			return object{}, errors.New("tombstone object without a valid id")
		}
	case objRevocation:
		if o.Revocation == nil || !ValidID(o.Revocation.ID) || !ValidID(o.Revocation.Tombstone) {
			return object{}, errors.New("revocation object without valid ids")
		}
	case objProgress:
		if o.Progress == nil || !ValidID(o.Progress.Tombstone) {
			return object{}, errors.New("progress record without a valid tombstone id")
		}
	default:
		return object{}, fmt.Errorf("unknown object type %q", o.Type)
	}
	return o, nil
}

func (s *Set) addObject(o object) error {
	switch o.Type {
	case objTombstone:
		return s.AddTombstone(*o.Tombstone)
	case objRevocation:
		return s.AddRevocation(*o.Revocation)
	case objProgress:
		s.AddProgress(*o.Progress)
	}
	return nil
}

// objects returns everything in s as stored objects, tombstones first.
func (s *Set) objects() []object {
	var out []object
	for _, t := range s.Tombstones() {
		out = append(out, tombstoneObject(t))
	}
	for _, r := range s.Revocations() {
		out = append(out, revocationObject(r))
	}
	return out
}

// LoadRepoSet reads every tombstone and revocation object of a repository.
// Objects are checked against their names, so a renamed or swapped object
// is an error, not a silent change.
func LoadRepoSet(ctx context.Context, st Store) (*Set, error) {
	set, _, err := loadRepoSet(ctx, st)
	return set, err
}

// loadRepoSet is LoadRepoSet that also returns the tombstone objects
// stored with the masks of an older lethe, re-masked.
func loadRepoSet(ctx context.Context, st Store) (*Set, []object, error) {
	var stale []object
	var names []string
	err := st.ListLethe(ctx, TombstonesPrefix, func(name string) error {
		if !strings.HasPrefix(name, TombstonesPrefix) {
			name = TombstonesPrefix + name
		}
		names = append(names, name)
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("listing tombstones: %w", err)
	}
	set := NewSet()
	for _, name := range names {
		data, err := st.LoadLethe(ctx, name)
		if err != nil {
			return nil, nil, fmt.Errorf("loading %s: %w", name, err)
		}
		o, err := decodeObject(data)
		if err != nil {
			return nil, nil, fmt.Errorf("decoding %s: %w", name, err)
		}
		if o.name() != name {
			return nil, nil, fmt.Errorf("decoding %s: object is %s", name, o.name())
		}
		if o.Type == objTombstone {
			c := *o.Tombstone
			c.Entries = append([]Entry(nil), c.Entries...)
			if remaskEntries(c.Entries) {
				stale = append(stale, object{Version: o.Version, Type: objTombstone, Tombstone: &c})
			}
		}
		if err := set.addObject(o); err != nil {
			return nil, nil, fmt.Errorf("loading %s: %w", name, err)
		}
	}
	return set, stale, nil
}

// remover is a Store that can also delete an object.
type remover interface {
	RemoveLethe(ctx context.Context, name string) error
}

// remaskRepo replaces tombstone objects stored with old masks by their
// re-masked form, where the store can delete. Between the delete and the
// save the object is missing only in this repository: the state directory
// and the other repositories still hold it, and the next sync restores it.
func remaskRepo(ctx context.Context, st Store, stale []object) error {
	rm, ok := st.(remover)
	if !ok {
		return nil
	}
	for _, o := range stale {
		if err := rm.RemoveLethe(ctx, o.name()); err != nil {
			return fmt.Errorf("re-masking %s: %w", o.name(), err)
		}
		if err := saveObject(ctx, st, o); err != nil {
			return fmt.Errorf("re-masking %s: %w", o.name(), err)
		}
	}
	return nil
}

func saveObject(ctx context.Context, st Store, o object) error {
	data, err := json.Marshal(o)
	if err != nil {
		return err
	}
	if err := st.SaveLethe(ctx, o.name(), data); err != nil {
		// Objects are write-once; another writer may have put the same
		// object there first, which is success.
		if old, lerr := st.LoadLethe(ctx, o.name()); lerr == nil && bytes.Equal(old, data) {
			return nil
		}
		return fmt.Errorf("saving %s: %w", o.name(), err)
	}
	return nil
}

// --- the subject key in repositories ---

type keyFile struct {
	Version int       `json:"version"`
	Created time.Time `json:"created"`
	Key     []byte    `json:"key"` // base64 in JSON
}

func encodeKey(k *SubjectKey, created time.Time) ([]byte, error) {
	return json.Marshal(keyFile{Version: 1, Created: created.UTC(), Key: k.raw[:]})
}

func decodeKey(data []byte) (*SubjectKey, error) {
	var kf keyFile
	if err := json.Unmarshal(data, &kf); err != nil {
		return nil, err
	}
	if kf.Version != 1 {
		return nil, fmt.Errorf("unsupported version %d", kf.Version)
	}
	return SubjectKeyFromBytes(kf.Key)
}

// loadRepoKey returns the repository's subject key, or nil if it has none.
func loadRepoKey(ctx context.Context, st Store) (*SubjectKey, error) {
	data, err := st.LoadLethe(ctx, SubjectKeyName)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("loading subject key: %w", err)
	}
	k, err := decodeKey(data)
	if err != nil {
		return nil, fmt.Errorf("decoding subject key: %w", err)
	}
	return k, nil
}

func saveRepoKey(ctx context.Context, st Store, k *SubjectKey, now time.Time) error {
	data, err := encodeKey(k, now)
	if err != nil {
		return err
	}
	if err := st.SaveLethe(ctx, SubjectKeyName, data); err != nil {
		return fmt.Errorf("saving subject key: %w", err)
	}
	return nil
}
