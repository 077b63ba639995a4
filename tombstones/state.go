package tombstones

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// DefaultStateDir is the local state directory unless LETHE_STATE_DIR or
// the config says otherwise.
const DefaultStateDir = "/var/lib/lethe"

// StateDirFromEnv returns $LETHE_STATE_DIR, or DefaultStateDir.
func StateDirFromEnv() string {
	if d := os.Getenv("LETHE_STATE_DIR"); d != "" {
		return d
	}
	return DefaultStateDir
}

// Files in the state directory.
const (
	stateLogName = "tombstones.log"
	stateKeyName = "subject.key"
)

// State is the local state directory: an append-only, fsynced log of
// tombstones, revocations and progress records (JSON lines holding
// fingerprints and masked identifiers, never identifiers in clear text),
// and a copy of the subject key. Erasures recorded here survive while a
// repository is unreachable and are synced to it later.
type State struct {
	dir string
	mu  sync.Mutex // serialises appends within the process
}

// OpenState opens (creating if needed, mode 0700) the state directory.
func OpenState(dir string) (*State, error) {
	if dir == "" {
		return nil, errors.New("state directory: empty path")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating state directory: %w", err)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("state directory: %w", err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("state directory %s: not a directory", dir)
	}
	return &State{dir: dir}, nil
}

// Dir returns the state directory's path.
func (s *State) Dir() string { return s.dir }

// LoadKey returns the subject key kept in the state directory, or nil.
func (s *State) LoadKey() (*SubjectKey, error) {
	p := filepath.Join(s.dir, stateKeyName)
	data, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading subject key: %w", err)
	}
	k, err := decodeKey(data)
	if err != nil {
		return nil, fmt.Errorf("decoding subject key %s: %w", p, err)
	}
	return k, nil
}

// SaveKey stores k (mode 0600) unless the state directory already has a
// key; an existing different key is an error, never overwritten.
func (s *State) SaveKey(k *SubjectKey, now time.Time) error {
	data, err := encodeKey(k, now)
	if err != nil {
		return err
	}
	final := filepath.Join(s.dir, stateKeyName)
	f, err := os.CreateTemp(s.dir, stateKeyName+".tmp-*")
	if err != nil {
		return fmt.Errorf("saving subject key: %w", err)
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	if err := writeSynced(f, data); err != nil {
		return fmt.Errorf("saving subject key: %w", err)
	}
	// A hard link fails if the key exists, so two processes cannot both
	// create one.
	if err := os.Link(tmp, final); err != nil {
		if !errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("saving subject key: %w", err)
		}
		old, lerr := s.LoadKey()
		if lerr != nil {
			return lerr
		}
		if old == nil || !old.Equal(k) {
			return fmt.Errorf("saving subject key: %s already holds a different key", final)
		}
		return nil
	}
	return syncDir(s.dir)
}

// replaceKey replaces the state directory's key old by k. The caller
// checked that nothing in the log depends on old; if the file no longer
// holds old (another process replaced it), it is left alone and an error
// says so.
func (s *State) replaceKey(old, k *SubjectKey, now time.Time) error {
	cur, err := s.LoadKey()
	if err != nil {
		return err
	}
	if cur == nil || !cur.Equal(old) {
		if cur != nil && cur.Equal(k) {
			return nil
		}
		return fmt.Errorf("replacing subject key: %s changed meanwhile", filepath.Join(s.dir, stateKeyName))
	}
	data, err := encodeKey(k, now)
	if err != nil {
		return err
	}
	f, err := os.CreateTemp(s.dir, stateKeyName+".tmp-*")
	if err != nil {
		return fmt.Errorf("replacing subject key: %w", err)
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	if err := writeSynced(f, data); err != nil {
		return fmt.Errorf("replacing subject key: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(s.dir, stateKeyName)); err != nil {
		return fmt.Errorf("replacing subject key: %w", err)
	}
	return syncDir(s.dir)
}

// writeSynced makes f mode 0600, writes data, fsyncs and closes it.
func writeSynced(f *os.File, data []byte) error {
	err := f.Chmod(0o600)
	if err == nil {
		_, err = f.Write(data)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// Load reads the log. A line cut short by a crash is skipped.
func (s *State) Load() (*Set, error) {
	set := NewSet()
	p := filepath.Join(s.dir, stateLogName)
	f, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		return set, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading tombstone log: %w", err)
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 64<<10)
	for line := 1; ; line++ {
		b, err := r.ReadBytes('\n')
		if len(b) > 0 && (b[len(b)-1] == '\n' || err == io.EOF) {
			complete := b[len(b)-1] == '\n'
			b = bytes.TrimSpace(b)
			if len(b) > 0 {
				o, derr := decodeObject(b)
				if derr != nil {
					// A torn write leaves an unterminated line (terminated
					// by the next append): skip it; the object is still
					// in the repositories or was never acknowledged.
					if !complete || !json.Valid(b) {
						continue
					}
					return nil, fmt.Errorf("%s line %d: %w", p, line, derr)
				}
				if aerr := set.addObject(o); aerr != nil {
					return nil, fmt.Errorf("%s line %d: %w", p, line, aerr)
				}
			}
		}
		if err == io.EOF {
			return set, nil
		}
		if err != nil {
			return nil, fmt.Errorf("reading tombstone log: %w", err)
		}
	}
}

// append writes objs to the log as one write and fsyncs it.
func (s *State) append(objs ...object) error {
	if len(objs) == 0 {
		return nil
	}
	var buf bytes.Buffer
	for _, o := range objs {
		b, err := json.Marshal(o)
		if err != nil {
			return err
		}
		buf.Write(b)
		buf.WriteByte('\n')
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p := filepath.Join(s.dir, stateLogName)
	_, statErr := os.Stat(p)
	created := errors.Is(statErr, fs.ErrNotExist)
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("appending to tombstone log: %w", err)
	}
	// Terminate a line torn by an earlier crash so it stays one bad line.
	if !created {
		if torn, err := endsTorn(p); err != nil {
			f.Close()
			return fmt.Errorf("appending to tombstone log: %w", err)
		} else if torn {
			buf = *bytes.NewBuffer(append([]byte{'\n'}, buf.Bytes()...))
		}
	}
	if _, err := f.Write(buf.Bytes()); err != nil {
		f.Close()
		return fmt.Errorf("appending to tombstone log: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("syncing tombstone log: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("appending to tombstone log: %w", err)
	}
	if created {
		return syncDir(s.dir)
	}
	return nil
}

func endsTorn(p string) (bool, error) {
	f, err := os.Open(p)
	if err != nil {
		return false, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || fi.Size() == 0 {
		return false, err
	}
	var last [1]byte
	if _, err := f.ReadAt(last[:], fi.Size()-1); err != nil {
		return false, err
	}
	return last[0] != '\n', nil
}

// RecordProgress appends a progress record for a tombstone in one
// repository.
func (s *State) RecordProgress(p Progress) error {
	if !ValidID(p.Tombstone) {
		return errors.New("progress: invalid tombstone id")
	}
	return s.append(object{Version: objVersion, Type: objProgress, Progress: &p})
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("syncing %s: %w", dir, err)
	}
	return nil
}

// Remask rewrites the log when a tombstone in it carries a mask of an
// older lethe (one that showed a date of birth or five digits): the log is
// written anew, atomically, with every mask as Remask gives it. It returns
// how many tombstones it re-masked.
func (s *State) Remask() (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := filepath.Join(s.dir, stateLogName)
	data, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("reading tombstone log: %w", err)
	}
	var out bytes.Buffer
	n := 0
	for _, line := range bytes.SplitAfter(data, []byte{'\n'}) {
		b := bytes.TrimSpace(line)
		o, derr := decodeObject(b)
		if len(b) == 0 || derr != nil || o.Type != objTombstone || !remaskEntries(o.Tombstone.Entries) {
			out.Write(line)
			continue
		}
		enc, err := json.Marshal(o)
		if err != nil {
			return 0, err
		}
		out.Write(enc)
		out.WriteByte('\n')
		n++
	}
	if n == 0 {
		return 0, nil
	}
	tmp, err := os.CreateTemp(s.dir, stateLogName+".remask-*")
	if err != nil {
		return 0, fmt.Errorf("re-masking tombstone log: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(out.Bytes()); err != nil {
		tmp.Close()
		return 0, fmt.Errorf("re-masking tombstone log: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return 0, fmt.Errorf("re-masking tombstone log: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return 0, fmt.Errorf("re-masking tombstone log: %w", err)
	}
	if err := os.Rename(tmp.Name(), p); err != nil {
		return 0, fmt.Errorf("re-masking tombstone log: %w", err)
	}
	return n, syncDir(s.dir)
}

// remaskEntries gives every entry its current mask and reports whether
// one changed.
func remaskEntries(es []Entry) bool {
	changed := false
	for i := range es {
		if m := Remask(es[i].Kind, es[i].Masked); m != es[i].Masked {
			es[i].Masked, changed = m, true
		}
	}
	return changed
}
