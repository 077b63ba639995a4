package receipts

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"lethe/tombstones"
)

// Where the signing key is kept.
const (
	KeyName      = "keys/receipts" // below lethe/ in every repository
	StateKeyName = "receipt.key"   // in the state directory, mode 0600
)

// Keys finds, and on first use makes, the receipt signing key, and keeps
// one copy of it in the state directory and one in every repository, as
// tombstones.Service does with the subject key: a fresh machine with only a
// repository signs with the same key, and two places holding different
// keys are an error, never resolved by picking one.
type Keys struct {
	StateDir string // "" for none (a fresh machine reading a repository)
	Repos    []tombstones.Repo

	// Warn, if set, is told about a repository that cannot be reached, and
	// the call carries on with the others; without it such errors are
	// returned.
	Warn func(repo string, err error)
	Now  func() time.Time
}

type keyFile struct {
	Version int       `json:"version"`
	Created time.Time `json:"created"`
	Seed    []byte    `json:"seed"` // the Ed25519 seed, base64 in JSON
}

func encodeSigningKey(k ed25519.PrivateKey, created time.Time) ([]byte, error) {
	return json.Marshal(keyFile{Version: 1, Created: created.UTC(), Seed: k.Seed()})
}

func decodeSigningKey(data []byte) (ed25519.PrivateKey, error) {
	var kf keyFile
	if err := strictUnmarshal(data, &kf); err != nil {
		return nil, err
	}
	if kf.Version != 1 {
		return nil, fmt.Errorf("unsupported version %d", kf.Version)
	}
	if len(kf.Seed) != ed25519.SeedSize {
		return nil, fmt.Errorf("seed of %d bytes, want %d", len(kf.Seed), ed25519.SeedSize)
	}
	return ed25519.NewKeyFromSeed(kf.Seed), nil
}

// Load returns the signing key without making one: nil if no place has
// one yet.
func (k *Keys) Load(ctx context.Context) (ed25519.PrivateKey, error) {
	key, _, err := k.find(ctx)
	return key, err
}

// Key returns the signing key, making it on first use, and copies it to
// every reachable place that lacks it.
func (k *Keys) Key(ctx context.Context) (ed25519.PrivateKey, error) {
	key, st, err := k.find(ctx)
	if err != nil {
		return nil, err
	}
	if key == nil {
		if len(st.unreachable) > 0 {
			return nil, fmt.Errorf("no receipt signing key yet, and repositories %s are unreachable: "+
				"a new key might conflict with one there", strings.Join(st.unreachable, ", "))
		}
		_, key, err = ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return nil, fmt.Errorf("generating receipt signing key: %w", err)
		}
	}
	now := time.Now()
	if k.Now != nil {
		now = k.Now()
	}
	data, err := encodeSigningKey(key, now)
	if err != nil {
		return nil, err
	}
	if k.StateDir != "" && !st.inState {
		if err := saveStateKey(k.StateDir, data, key); err != nil {
			return nil, err
		}
	}
	for i, r := range k.Repos {
		if st.reachable[i] && !st.inRepo[i] {
			if err := r.Store.SaveLethe(ctx, KeyName, data); err != nil && !sameRepoKey(ctx, r.Store, key) {
				if rerr := k.repoErr(r.Name, fmt.Errorf("saving receipt signing key: %w", err)); rerr != nil {
					return nil, rerr
				}
			}
		}
	}
	return key, nil
}

type keyPlaces struct {
	inState     bool
	reachable   []bool
	inRepo      []bool
	unreachable []string
}

func (k *Keys) find(ctx context.Context) (ed25519.PrivateKey, keyPlaces, error) {
	type source struct {
		name string
		key  ed25519.PrivateKey
	}
	var sources []source
	st := keyPlaces{reachable: make([]bool, len(k.Repos)), inRepo: make([]bool, len(k.Repos))}
	if k.StateDir != "" {
		key, err := loadStateKey(k.StateDir)
		if err != nil {
			return nil, st, err
		}
		if key != nil {
			st.inState = true
			sources = append(sources, source{"the state directory", key})
		}
	}
	for i, r := range k.Repos {
		data, err := r.Store.LoadLethe(ctx, KeyName)
		if errors.Is(err, fs.ErrNotExist) {
			st.reachable[i] = true
			continue
		}
		if err != nil {
			if rerr := k.repoErr(r.Name, fmt.Errorf("loading receipt signing key: %w", err)); rerr != nil {
				return nil, st, rerr
			}
			st.unreachable = append(st.unreachable, r.Name)
			continue
		}
		key, err := decodeSigningKey(data)
		if err != nil {
			return nil, st, fmt.Errorf("repository %s: decoding receipt signing key: %w", r.Name, err)
		}
		st.reachable[i], st.inRepo[i] = true, true
		sources = append(sources, source{"repository " + r.Name, key})
	}
	var key ed25519.PrivateKey
	for _, src := range sources {
		if key == nil {
			key = src.key
			continue
		}
		if !key.Equal(src.key) {
			return nil, st, fmt.Errorf("receipt signing keys disagree: %s has key %s, %s has key %s; "+
				"receipts signed by one do not verify with the other, so lethe will not pick one",
				sources[0].name, Fingerprint(key.Public().(ed25519.PublicKey)), src.name, Fingerprint(src.key.Public().(ed25519.PublicKey)))
		}
	}
	return key, st, nil
}

func (k *Keys) repoErr(repo string, err error) error {
	err = fmt.Errorf("repository %s: %w", repo, err)
	if k.Warn != nil {
		k.Warn(repo, err)
		return nil
	}
	return err
}

func loadStateKey(dir string) (ed25519.PrivateKey, error) {
	p := filepath.Join(dir, StateKeyName)
	data, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading receipt signing key: %w", err)
	}
	key, err := decodeSigningKey(data)
	if err != nil {
		return nil, fmt.Errorf("decoding receipt signing key %s: %w", p, err)
	}
	return key, nil
}

// saveStateKey writes the key file (mode 0600, fsynced) unless the state
// directory already has one; a different key there is an error.
func saveStateKey(dir string, data []byte, key ed25519.PrivateKey) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("saving receipt signing key: %w", err)
	}
	final := filepath.Join(dir, StateKeyName)
	f, err := os.CreateTemp(dir, StateKeyName+".tmp-*")
	if err != nil {
		return fmt.Errorf("saving receipt signing key: %w", err)
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	err = f.Chmod(0o600)
	if err == nil {
		_, err = f.Write(data)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("saving receipt signing key: %w", err)
	}
	// A hard link fails if the key exists, so two processes cannot both
	// create one.
	if err := os.Link(tmp, final); err != nil {
		if !errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("saving receipt signing key: %w", err)
		}
		old, lerr := loadStateKey(dir)
		if lerr != nil {
			return lerr
		}
		if old == nil || !old.Equal(key) {
			return fmt.Errorf("saving receipt signing key: %s already holds a different key", final)
		}
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("saving receipt signing key: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("saving receipt signing key: syncing %s: %w", dir, err)
	}
	return nil
}

// sameRepoKey reports whether st holds key: another process may have
// saved it first.
func sameRepoKey(ctx context.Context, st tombstones.Store, key ed25519.PrivateKey) bool {
	data, err := st.LoadLethe(ctx, KeyName)
	if err != nil {
		return false
	}
	old, err := decodeSigningKey(data)
	return err == nil && old.Equal(key)
}
