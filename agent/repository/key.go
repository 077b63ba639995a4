package repository

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/user"
	"runtime"
	"sort"
	"time"

	"golang.org/x/crypto/scrypt"

	"lethe/backends"
)

// Calibration of new key files' scrypt parameters, as restic does it: a
// target time per derivation on this machine and a memory limit, r=8, N a
// power of two no smaller than restic's default.
const (
	// DefaultKDFTarget is restic's target time for a key derivation.
	DefaultKDFTarget = 500 * time.Millisecond
	// kdfMemory is restic's memory limit for scrypt (128*N*r bytes).
	kdfMemory = 60 << 20
	kdfMinN   = 1 << 14
	kdfR      = 8
	// kdfMaxP bounds p, so that a clock that misreads cannot make a
	// key file that takes minutes to open.
	kdfMaxP = 64
)

// CalibrateKDF returns scrypt parameters for a new key file that take
// about target to derive here: N doubles from 2^14 while a derivation
// stays below target and scrypt's memory (128*N*r bytes) below restic's
// limit of 60 MiB, then p grows to fill the time left, as restic's
// calibration does. The result is always within what restic accepts.
func CalibrateKDF(target time.Duration) (KDFParams, error) {
	salt := make([]byte, 64)
	if _, err := rand.Read(salt); err != nil {
		return KDFParams{}, fmt.Errorf("generating salt: %w", err)
	}
	// scrypt's memory is garbage once measured; do not let it raise the
	// heap goal of the process (see deriveKey).
	defer runtime.GC()
	return calibrateKDF(target, func(p KDFParams) (time.Duration, error) {
		start := time.Now()
		if _, err := scrypt.Key([]byte("calibration"), salt, p.N, p.R, p.P, aesKeySize+2*macKeySize); err != nil {
			return 0, fmt.Errorf("calibrating scrypt: %w", err)
		}
		return time.Since(start), nil
	})
}

// calibrateKDF is CalibrateKDF with the time of a derivation measured by
// measure.
func calibrateKDF(target time.Duration, measure func(KDFParams) (time.Duration, error)) (KDFParams, error) {
	p := KDFParams{N: kdfMinN, R: kdfR, P: 1}
	d, err := measure(p)
	if err != nil {
		return KDFParams{}, err
	}
	for d < target && 128*2*p.N*p.R <= kdfMemory {
		next := KDFParams{N: 2 * p.N, R: p.R, P: 1}
		nd, err := measure(next)
		if err != nil {
			return KDFParams{}, err
		}
		if nd > target {
			break
		}
		p, d = next, nd
	}
	// p runs scrypt's core p times over the same memory: time grows
	// linearly with it.
	if d > 0 && d < target {
		p.P = min(max(int(target/d), 1), kdfMaxP)
	}
	return p, p.valid()
}

// newKDF returns the scrypt parameters for a key file this handle adds.
func (o *Options) newKDF() (KDFParams, error) {
	if o.KDF != nil {
		return *o.KDF, nil
	}
	target := o.KDFTarget
	if target <= 0 {
		target = DefaultKDFTarget
	}
	return CalibrateKDF(target)
}

// keyFile is restic's key file (stored unencrypted as JSON).
type keyFile struct {
	Created  time.Time `json:"created"`
	Username string    `json:"username"`
	Hostname string    `json:"hostname"`
	KDF      string    `json:"kdf"`
	N        int       `json:"N"`
	R        int       `json:"r"`
	P        int       `json:"p"`
	Salt     []byte    `json:"salt"`
	Data     []byte    `json:"data"`
}

// KeyInfo describes a key file.
type KeyInfo struct {
	ID       ID
	Username string
	Hostname string
	Created  time.Time
	// Current is set for the key this handle was opened with.
	Current bool
}

func currentUserHost() (string, string) {
	username := ""
	if u, err := user.Current(); err == nil {
		username = u.Username
	}
	hostname, _ := os.Hostname()
	return username, hostname
}

// createKeyFile wraps master in a new key file for password and saves it.
func createKeyFile(ctx context.Context, be backends.Backend, master *cryptoKey, password, username, hostname string, opts *Options) (ID, error) {
	params, err := opts.newKDF()
	if err != nil {
		return ID{}, err
	}
	if username == "" && hostname == "" {
		username, hostname = currentUserHost()
	}
	salt := make([]byte, 64)
	if _, err := rand.Read(salt); err != nil {
		return ID{}, fmt.Errorf("generating salt: %w", err)
	}
	user, err := deriveKey(password, salt, params)
	if err != nil {
		return ID{}, err
	}
	plain, err := master.MarshalJSON()
	if err != nil {
		return ID{}, err
	}
	kf := keyFile{
		Created:  time.Now(),
		Username: username,
		Hostname: hostname,
		KDF:      "scrypt",
		N:        params.N, R: params.R, P: params.P,
		Salt: salt,
		Data: user.Seal(nil, plain),
	}
	buf, err := json.Marshal(kf)
	if err != nil {
		return ID{}, err
	}
	id := Hash(buf)
	if err := be.Save(ctx, backends.Handle{Type: backends.KeyFile, Name: id.String()}, buf); err != nil {
		return ID{}, fmt.Errorf("saving key file: %w", err)
	}
	return id, nil
}

func loadKeyFile(ctx context.Context, be backends.Backend, id ID) (*keyFile, error) {
	h := backends.Handle{Type: backends.KeyFile, Name: id.String()}
	buf, err := backends.LoadAll(ctx, be, h)
	if err != nil {
		return nil, err
	}
	kf := &keyFile{}
	if err := json.Unmarshal(buf, kf); err != nil {
		return nil, fmt.Errorf("decoding key file %s: %w", id.Str(), err)
	}
	if kf.KDF != "scrypt" {
		return nil, fmt.Errorf("key file %s: unsupported KDF %q", id.Str(), kf.KDF)
	}
	return kf, nil
}

// openKeyFile returns the master key inside kf, or errUnauthenticated.
func openKeyFile(kf *keyFile, password string) (*cryptoKey, error) {
	user, err := deriveKey(password, kf.Salt, KDFParams{N: kf.N, R: kf.R, P: kf.P})
	if err != nil {
		return nil, err
	}
	plain, err := user.Open(nil, kf.Data)
	if err != nil {
		return nil, err
	}
	return unmarshalKey(plain)
}

// searchKey tries every key file until one opens with password.
func searchKey(ctx context.Context, be backends.Backend, password string) (*cryptoKey, ID, error) {
	var ids IDs
	err := be.List(ctx, backends.KeyFile, func(fi backends.FileInfo) error {
		id, err := ParseID(fi.Name)
		if err != nil {
			return nil // not a key file
		}
		ids = append(ids, id)
		return nil
	})
	if err != nil {
		return nil, ID{}, fmt.Errorf("listing keys: %w", err)
	}
	var lastErr error
	for _, id := range ids {
		kf, err := loadKeyFile(ctx, be, id)
		if err != nil {
			lastErr = err
			continue
		}
		k, err := openKeyFile(kf, password)
		if errors.Is(err, errUnauthenticated) {
			continue
		}
		if err != nil {
			lastErr = fmt.Errorf("key file %s: %w", id.Str(), err)
			continue
		}
		return k, id, nil
	}
	if ctx.Err() != nil {
		return nil, ID{}, ctx.Err()
	}
	if lastErr != nil {
		return nil, ID{}, fmt.Errorf("%w (%d key files, last error: %v)", ErrNoKeyFound, len(ids), lastErr)
	}
	return nil, ID{}, ErrNoKeyFound
}

// AddKey adds a key file for password that opens the same master key.
// Empty username and hostname are filled in from the current process.
func (r *Repository) AddKey(ctx context.Context, password, username, hostname string) (ID, error) {
	return createKeyFile(ctx, r.be, r.key, password, username, hostname, &r.opts)
}

// Keys lists the key files, oldest first.
func (r *Repository) Keys(ctx context.Context) ([]KeyInfo, error) {
	var ids IDs
	err := r.be.List(ctx, backends.KeyFile, func(fi backends.FileInfo) error {
		if id, err := ParseID(fi.Name); err == nil {
			ids = append(ids, id)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("listing keys: %w", err)
	}
	var keys []KeyInfo
	for _, id := range ids {
		kf, err := loadKeyFile(ctx, r.be, id)
		if err != nil {
			return nil, fmt.Errorf("loading key %s: %w", id.Str(), err)
		}
		keys = append(keys, KeyInfo{ID: id, Username: kf.Username, Hostname: kf.Hostname, Created: kf.Created, Current: id == r.keyID})
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i].Created.Before(keys[j].Created) })
	return keys, nil
}

// RemoveKey deletes a key file. It refuses the key this handle uses, so a
// repository cannot lose its last way in by accident.
func (r *Repository) RemoveKey(ctx context.Context, id ID) error {
	if id == r.keyID {
		return fmt.Errorf("refusing to remove key %s: it is the key in use", id.Str())
	}
	if err := r.be.Remove(ctx, backends.Handle{Type: backends.KeyFile, Name: id.String()}); err != nil {
		return fmt.Errorf("removing key %s: %w", id.Str(), err)
	}
	return nil
}

// RemoveKeyFile deletes any key file, also the one in use (the handle
// keeps working with the master key in memory). It is for password
// changes that add the new key first; prefer RemoveKey or ChangePassword.
func (r *Repository) RemoveKeyFile(ctx context.Context, id ID) error {
	if err := r.be.Remove(ctx, backends.Handle{Type: backends.KeyFile, Name: id.String()}); err != nil {
		return fmt.Errorf("removing key %s: %w", id.Str(), err)
	}
	return nil
}

// ChangePassword adds a key file for newPassword and removes the one in
// use; the handle continues with the new key.
func (r *Repository) ChangePassword(ctx context.Context, newPassword, username, hostname string) (ID, error) {
	id, err := r.AddKey(ctx, newPassword, username, hostname)
	if err != nil {
		return ID{}, err
	}
	old := r.keyID
	r.keyID = id
	if err := r.RemoveKeyFile(ctx, old); err != nil {
		return id, fmt.Errorf("new key %s saved, but: %w", id.Str(), err)
	}
	return id, nil
}
