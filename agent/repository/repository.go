// Package repository implements the restic repository format, version 2:
// encrypted, deduplicated, content-addressed storage of blobs in packs,
// with index, snapshot and key files, over a backends.Backend.
package repository

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"lethe/backends"

	"github.com/klauspost/compress/zstd"
	"github.com/restic/chunker"
)

// ErrNoKeyFound is returned when no key file opens with the password.
var ErrNoKeyFound = errors.New("wrong password or no key found")

// Config is the repository's config file.
type Config struct {
	Version           uint        `json:"version"`
	ID                string      `json:"id"`
	ChunkerPolynomial chunker.Pol `json:"chunker_polynomial"`
}

// Options tune a repository handle.
type Options struct {
	// PackSize is the target pack size in bytes (default 16 MiB).
	PackSize uint
	// Compression: "auto" (default), "off" or "max".
	Compression string
	// KDF sets the scrypt parameters of key files this handle adds
	// (Init, AddKey, ChangePassword); nil calibrates them to the machine
	// (see CalibrateKDF).
	KDF *KDFParams
	// KDFTarget is how long deriving a new key file's key should take
	// when KDF is nil (default DefaultKDFTarget); tests shorten it.
	KDFTarget time.Duration
	// TempDir is where packs are spooled while they fill and upload
	// (default os.TempDir()); the files hold ciphertext only and, where
	// the system allows, are unlinked while open.
	TempDir string
	// Warn is told of damage that reads skip instead of failing: a
	// snapshot or index file that cannot be loaded, a pack whose header
	// cannot be read. It is called from the goroutine of the read that
	// skipped. nil drops warnings.
	Warn func(error)
}

// DefaultPackSize is the pack size restic aims for.
const DefaultPackSize = 16 << 20

// KDFParams are scrypt's parameters for a new key file.
type KDFParams struct{ N, R, P int }

// InitOptions tune a new repository.
type InitOptions struct {
	// Polynomial is the chunker polynomial; 0 picks a random one.
	Polynomial chunker.Pol
	// KDF overrides the scrypt parameters (tests use cheap ones); nil
	// uses Options.KDF, and calibrates if that is nil too.
	KDF *KDFParams
	// Username and Hostname go into the first key file.
	Username, Hostname string
	// Options for the returned handle.
	Options Options
}

// PackedBlob locates a blob inside a pack.
type PackedBlob struct {
	BlobHandle
	PackID ID
	// Offset and Length are the stored (encrypted) bytes in the pack.
	Offset, Length uint
	// UncompressedLength is 0 for uncompressed blobs.
	UncompressedLength uint
}

// DataLength is the blob's plaintext length.
func (b PackedBlob) DataLength() uint {
	if b.UncompressedLength != 0 {
		return b.UncompressedLength
	}
	return b.Length - overhead
}

// overhead is the size of IV and MAC around every ciphertext.
const overhead = ivSize + macSize

// Repository is an open repository. Its methods are safe for concurrent
// use, except that Flush must not run concurrently with SaveBlob.
type Repository struct {
	be    backends.Backend
	opts  Options
	key   *cryptoKey
	keyID ID
	cfg   Config

	enc *zstd.Encoder
	dec *zstd.Decoder

	idx *index

	// packers holds the open pack per blob type.
	packMu  sync.Mutex
	packers map[BlobType]*packer

	// packSlots holds a token per open or uploading pack; openMu lets one
	// caller per blob type wait for a slot.
	packSlots chan struct{}
	openMu    [TreeBlob + 1]sync.Mutex
	uploadWG  sync.WaitGroup
	uploadMu  sync.Mutex
	uploadErr error

	lockMu        sync.Mutex
	exclusiveHeld int
	lockTiming    lockTiming
}

func newRepository(be backends.Backend, opts Options) (*Repository, error) {
	if opts.PackSize == 0 {
		opts.PackSize = DefaultPackSize
	}
	if opts.PackSize < 4<<10 || opts.PackSize > 128<<20 {
		return nil, fmt.Errorf("pack size %d out of range (4 KiB..128 MiB)", opts.PackSize)
	}
	level := zstd.SpeedDefault
	switch opts.Compression {
	case "", "auto":
		opts.Compression = "auto"
	case "off":
	case "max":
		level = zstd.SpeedBestCompression
	default:
		return nil, fmt.Errorf("invalid compression mode %q (auto, off, max)", opts.Compression)
	}
	// A 512 KiB window, as restic uses: blobs average 1 MiB, and the
	// default window (8 MiB) costs 16 MiB of history per encoder.
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(level), zstd.WithEncoderCRC(false), zstd.WithWindowSize(512<<10))
	if err != nil {
		return nil, err
	}
	// The limit keeps a hostile blob from exhausting memory; no legitimate
	// blob or unpacked file comes near it.
	dec, err := zstd.NewReader(nil, zstd.WithDecoderMaxMemory(1<<30), zstd.WithDecoderConcurrency(0))
	if err != nil {
		return nil, err
	}
	// Pack slots: the uploads, which the backend's connections bound, and
	// one more. Packs of both blob types may be open at once, so the tree
	// pack, which fills slowly, usually takes an upload's place: a local
	// backup uploads one pack at a time while it fills the next.
	uploads := min(max(be.Connections(), 1), maxPackUploads)
	return &Repository{
		be:        be,
		opts:      opts,
		enc:       enc,
		dec:       dec,
		idx:       newIndex(),
		packers:   map[BlobType]*packer{},
		packSlots: make(chan struct{}, uploads+1),

		lockTiming: defaultLockTiming(),
	}, nil
}

// maxPackUploads caps the packs uploading at once: each holds a temporary
// file of about a pack's size until it is stored, and a backend that
// stores from memory maps it while it uploads.
const maxPackUploads = 3

// Init creates a new repository (version 2) in an empty backend.
func Init(ctx context.Context, be backends.Backend, password string, opts InitOptions) (*Repository, error) {
	if _, err := be.Stat(ctx, backends.Handle{Type: backends.ConfigFile}); err == nil {
		return nil, fmt.Errorf("initialising repository at %s: config file already exists", be.Location())
	} else if !backends.IsNotExist(err) {
		return nil, fmt.Errorf("initialising repository at %s: %w", be.Location(), err)
	}
	if opts.Options.KDF == nil {
		opts.Options.KDF = opts.KDF
	}
	r, err := newRepository(be, opts.Options)
	if err != nil {
		return nil, err
	}
	pol := opts.Polynomial
	if pol == 0 {
		if pol, err = chunker.RandomPolynomial(); err != nil {
			return nil, fmt.Errorf("generating chunker polynomial: %w", err)
		}
	} else if !pol.Irreducible() {
		return nil, fmt.Errorf("chunker polynomial %v is not irreducible", pol)
	}
	idBuf := make([]byte, 32)
	if _, err := rand.Read(idBuf); err != nil {
		return nil, err
	}
	r.cfg = Config{Version: 2, ID: hex.EncodeToString(idBuf), ChunkerPolynomial: pol}
	if r.key, err = newRandomKey(); err != nil {
		return nil, err
	}
	if r.keyID, err = createKeyFile(ctx, be, r.key, password, opts.Username, opts.Hostname, &r.opts); err != nil {
		return nil, fmt.Errorf("initialising repository: %w", err)
	}
	buf, err := json.Marshal(r.cfg)
	if err != nil {
		return nil, err
	}
	if _, err := r.SaveUnpacked(ctx, backends.ConfigFile, buf); err != nil {
		return nil, fmt.Errorf("initialising repository: %w", err)
	}
	return r, nil
}

// Open opens an existing repository with password. It returns an error
// wrapping ErrNoKeyFound when no key file opens with it.
func Open(ctx context.Context, be backends.Backend, password string, opts Options) (*Repository, error) {
	r, err := newRepository(be, opts)
	if err != nil {
		return nil, err
	}
	if _, err := be.Stat(ctx, backends.Handle{Type: backends.ConfigFile}); err != nil {
		return nil, fmt.Errorf("opening repository at %s: %w", be.Location(), err)
	}
	if r.key, r.keyID, err = searchKey(ctx, be, password); err != nil {
		return nil, fmt.Errorf("opening repository at %s: %w", be.Location(), err)
	}
	buf, err := r.LoadUnpacked(ctx, backends.ConfigFile, ID{})
	if err != nil {
		return nil, fmt.Errorf("opening repository at %s: %w", be.Location(), err)
	}
	if err := json.Unmarshal(buf, &r.cfg); err != nil {
		return nil, fmt.Errorf("decoding config: %w", err)
	}
	if r.cfg.Version < 1 || r.cfg.Version > 2 {
		return nil, fmt.Errorf("unsupported repository version %d", r.cfg.Version)
	}
	if r.cfg.ChunkerPolynomial == 0 {
		return nil, errors.New("config has no chunker polynomial")
	}
	return r, nil
}

// warn reports damage a read skipped.
func (r *Repository) warn(err error) {
	if r.opts.Warn != nil {
		r.opts.Warn(err)
	}
}

// Backend returns the backend the repository lives in.
func (r *Repository) Backend() backends.Backend { return r.be }

// Config returns the repository's config.
func (r *Repository) Config() Config { return r.cfg }

// KeyID returns the ID of the key file the repository was opened with.
func (r *Repository) KeyID() ID { return r.keyID }

// Close releases the compressor's resources and the packs' temporary
// files. It does
// not flush: blobs not yet flushed are lost. The handle must not be used
// afterwards.
func (r *Repository) Close() error {
	r.uploadWG.Wait()
	r.packMu.Lock()
	for t, p := range r.packers {
		r.dropPacker(p)
		delete(r.packers, t)
	}
	r.packMu.Unlock()
	r.enc.Close()
	r.dec.Close()
	return nil
}

func (r *Repository) compressionOn() bool {
	return r.cfg.Version >= 2 && r.opts.Compression != "off"
}

// compressUnpacked applies the v2 framing of unpacked files: a version
// byte 2 followed by a zstd stream.
func (r *Repository) compressUnpacked(data []byte) []byte {
	out := make([]byte, 1, 1+len(data)/2+64)
	out[0] = 2
	return r.enc.EncodeAll(data, out)
}

func (r *Repository) decompressUnpacked(data []byte) ([]byte, error) {
	if len(data) == 0 || data[0] == '{' || data[0] == '[' {
		return data, nil // stored uncompressed JSON
	}
	if data[0] != 2 {
		return nil, fmt.Errorf("unsupported unpacked-file encoding version %d", data[0])
	}
	out, err := r.dec.DecodeAll(data[1:], nil)
	if err != nil {
		return nil, fmt.Errorf("decompressing: %w", err)
	}
	return out, nil
}

// SaveUnpacked encrypts data (compressed in a v2 repository, except the
// config) and stores it under the SHA-256 of the stored bytes.
func (r *Repository) SaveUnpacked(ctx context.Context, t backends.FileType, data []byte) (ID, error) {
	switch t {
	case backends.PackFile, backends.KeyFile, backends.LetheFile:
		return ID{}, fmt.Errorf("SaveUnpacked: invalid file type %s", t)
	}
	if t != backends.ConfigFile && r.cfg.Version >= 2 {
		data = r.compressUnpacked(data)
	}
	ct := r.key.Seal(nil, data)
	id := Hash(ct)
	h := backends.Handle{Type: t, Name: id.String()}
	if t == backends.ConfigFile {
		h.Name = ""
	}
	if err := r.be.Save(ctx, h, ct); err != nil {
		return ID{}, fmt.Errorf("saving %s: %w", h, err)
	}
	return id, nil
}

// LoadUnpacked loads, verifies, decrypts and decompresses a file. The
// config ignores id.
func (r *Repository) LoadUnpacked(ctx context.Context, t backends.FileType, id ID) ([]byte, error) {
	h := backends.Handle{Type: t, Name: id.String()}
	if t == backends.ConfigFile {
		h.Name = ""
	}
	buf, err := backends.LoadAll(ctx, r.be, h)
	if err != nil {
		return nil, fmt.Errorf("loading %s: %w", h, err)
	}
	// Past this point the file was read: what fails is damage.
	if t != backends.ConfigFile && Hash(buf) != id {
		return nil, damaged{fmt.Errorf("loading %s: content does not match its ID (corrupt file)", h)}
	}
	if len(buf) < overhead {
		return nil, damaged{fmt.Errorf("loading %s: too short (%d bytes)", h, len(buf))}
	}
	plain, err := r.key.Open(buf[ivSize:ivSize], buf)
	if err != nil {
		return nil, damaged{fmt.Errorf("decrypting %s: %w", h, err)}
	}
	if t != backends.ConfigFile && r.cfg.Version >= 2 {
		if plain, err = r.decompressUnpacked(plain); err != nil {
			return nil, damaged{fmt.Errorf("loading %s: %w", h, err)}
		}
	}
	return plain, nil
}

// List calls fn for every object of type t whose name is an ID.
func (r *Repository) List(ctx context.Context, t backends.FileType, fn func(ID, int64) error) error {
	return r.be.List(ctx, t, func(fi backends.FileInfo) error {
		id, err := ParseID(fi.Name)
		if err != nil {
			return nil // not ours (temporary or foreign file)
		}
		return fn(id, fi.Size)
	})
}

// RemoveUnpacked deletes a file.
func (r *Repository) RemoveUnpacked(ctx context.Context, t backends.FileType, id ID) error {
	h := backends.Handle{Type: t, Name: id.String()}
	if err := r.be.Remove(ctx, h); err != nil {
		return fmt.Errorf("removing %s: %w", h, err)
	}
	return nil
}

// SaveLethe stores lethe's own object lethe/<name>, encrypted with the
// master key and compressed. Objects are write-once: saving an existing
// name fails (remove it first to replace it).
func (r *Repository) SaveLethe(ctx context.Context, name string, data []byte) error {
	h := backends.Handle{Type: backends.LetheFile, Name: name}
	if err := h.Valid(); err != nil {
		return err
	}
	ct := r.key.Seal(nil, r.compressUnpacked(data))
	if err := r.be.Save(ctx, h, ct); err != nil {
		return fmt.Errorf("saving %s: %w", h, err)
	}
	return nil
}

// LoadLethe loads and decrypts lethe/<name>. A missing object gives an
// error for which backends.IsNotExist is true.
func (r *Repository) LoadLethe(ctx context.Context, name string) ([]byte, error) {
	h := backends.Handle{Type: backends.LetheFile, Name: name}
	buf, err := backends.LoadAll(ctx, r.be, h)
	if err != nil {
		return nil, fmt.Errorf("loading %s: %w", h, err)
	}
	plain, err := r.key.Open(nil, buf)
	if err != nil {
		return nil, fmt.Errorf("decrypting %s: %w", h, err)
	}
	if len(plain) == 0 || plain[0] != 2 {
		return nil, fmt.Errorf("loading %s: unknown encoding", h)
	}
	out, err := r.dec.DecodeAll(plain[1:], nil)
	if err != nil {
		return nil, fmt.Errorf("decompressing %s: %w", h, err)
	}
	return out, nil
}

// ListLethe calls fn with the name of every lethe object that starts
// with prefix.
func (r *Repository) ListLethe(ctx context.Context, prefix string, fn func(name string) error) error {
	return r.be.List(ctx, backends.LetheFile, func(fi backends.FileInfo) error {
		if !strings.HasPrefix(fi.Name, prefix) {
			return nil
		}
		return fn(fi.Name)
	})
}

// RemoveLethe deletes lethe/<name>.
func (r *Repository) RemoveLethe(ctx context.Context, name string) error {
	h := backends.Handle{Type: backends.LetheFile, Name: name}
	if err := r.be.Remove(ctx, h); err != nil {
		return fmt.Errorf("removing %s: %w", h, err)
	}
	return nil
}

// LoadTree loads and decodes a tree blob.
func (r *Repository) LoadTree(ctx context.Context, id ID) (*Tree, error) {
	t, _, err := loadTree(ctx, r, id, nil)
	return t, err
}

// SaveTree encodes and saves a tree blob (deduplicated).
func (r *Repository) SaveTree(ctx context.Context, t *Tree) (ID, error) {
	buf, err := EncodeTree(t)
	if err != nil {
		return ID{}, err
	}
	id, _, _, err := r.SaveBlob(ctx, TreeBlob, buf, ID{}, false)
	return id, err
}

// isJSONStart reports whether b, after white space, starts a JSON object
// or array.
func isJSONStart(b []byte) bool {
	b = bytes.TrimLeft(b, " \t\r\n")
	return len(b) > 0 && (b[0] == '{' || b[0] == '[')
}
