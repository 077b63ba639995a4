// Package archiver backs up directories and files into a repository.
//
// The snapshot layout is restic's: trees start at the file system root, so
// backing up /srv/data gives a root tree with "srv" -> "data", and restic
// restores, lists and diffs lethe's snapshots like its own.
//
// Work is pipelined: one goroutine walks the file system and builds nodes,
// file workers read and chunk changed files, save workers compress,
// encrypt and store new blobs, and a tree saver writes each directory's
// tree once its children are done. Memory is bounded by the number of
// files in flight and the chunk buffers, which are reused, plus what a
// filter holds.
//
// A Filter, when set, is where erasure plugs in: the walker asks it about
// every item before its content moves, and it keeps the item, drops it,
// or has the file workers pass the file's content through it, unchanged
// files included.
package archiver

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/user"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"lethe/agent/formats"
	"lethe/agent/repository"

	"github.com/restic/chunker"
)

// Repo is what the archiver needs from a repository; *repository.Repository
// implements it.
type Repo interface {
	Config() repository.Config
	HasBlob(h repository.BlobHandle) bool
	SaveBlob(ctx context.Context, t repository.BlobType, data []byte, id repository.ID, storeDuplicate bool) (repository.ID, bool, int, error)
	LoadBlob(ctx context.Context, t repository.BlobType, id repository.ID, buf []byte) ([]byte, error)
	SaveSnapshot(ctx context.Context, sn *repository.Snapshot) (repository.ID, error)
	Flush(ctx context.Context) error
}

// ErrorFunc is told about a source item that cannot be backed up: path is
// its location on disk (through Options.MaskPath), and err names the item
// by that path too. Returning nil skips the item and the backup goes on
// (the snapshot is then incomplete); returning an error aborts the backup
// without writing a snapshot.
type ErrorFunc func(path string, err error) error

// Progress receives progress reports. Its methods are called from several
// goroutines and must be safe for concurrent use and fast.
type Progress interface {
	// Total reports what the backup covers as far as counted; done is set
	// on the final count.
	Total(files, dirs, bytes uint64, done bool)
	// Start is called when a file starts being processed.
	Start(path string)
	// Bytes reports n more bytes of file content processed (read, reused
	// from the parent snapshot, or dropped by the filter).
	Bytes(n uint64)
	// Done is called when a file or directory is finished.
	Done(path string)
}

// Options tune an Archiver.
type Options struct {
	// FileWorkers is the number of files read and chunked concurrently
	// (default 2).
	FileWorkers int
	// SaveWorkers is the number of goroutines compressing, encrypting and
	// storing blobs (default GOMAXPROCS).
	SaveWorkers int
	// Error is told about items that cannot be backed up (unreadable, or
	// the filter failed on them), one at a time; nil skips them silently
	// (they still count in Stats.Errors).
	Error ErrorFunc
	// Progress receives progress reports; nil for none.
	Progress Progress
	// Filter, when set, decides on every item: keep, drop, or filter the
	// content. An error of the filter for an item is reported to Error
	// like an unreadable item, and the item is left out.
	Filter Filter
	// Found, when set, is told about every item the filter dropped or
	// filtered, with its findings (which hold no identifier). It is called
	// once the item's node is final: a filtered file's node.Content is the
	// content stored; a dropped item is not stored and its node has no
	// content. path is masked by MaskPath. Found is called from several
	// goroutines and must not modify node.
	Found func(path string, node *repository.Node, f formats.Findings)
	// Index, when set, is given the content of every file read and
	// stored, for the subject index (see ContentIndexer).
	Index ContentIndexer
	// IgnoreInode and IgnoreCtime relax the parent-snapshot change check
	// (restic's --ignore-inode / --ignore-ctime).
	IgnoreInode, IgnoreCtime bool
	// MaskPath, when set, rewrites every path the archiver hands out: in
	// the errors it returns or reports, and to Error, Found and Progress.
	// It lets the caller mask a path component that names a subject. It
	// must be safe for concurrent use. Filter gets paths unmasked.
	MaskPath func(string) string
}

// SnapshotOptions describe one backup.
type SnapshotOptions struct {
	Time     time.Time // zero: now
	Hostname string    // empty: os.Hostname
	Tags     []string
	// Parent is the previous snapshot of the same paths; unchanged files
	// reuse its content without being read, unless the filter asks for
	// their content.
	Parent *repository.Snapshot
	// Excludes are patterns of paths to leave out.
	Excludes []string
	// ProgramVersion goes into the snapshot (restic's program_version).
	ProgramVersion string
}

// Stats summarise a backup, in the terms of restic's backup summary.
type Stats struct {
	FilesNew, FilesChanged, FilesUnmodified uint64
	DirsNew, DirsChanged, DirsUnmodified    uint64
	// DataBlobs and TreeBlobs count blobs added to the repository;
	// DataAdded is their stored size.
	DataBlobs, TreeBlobs uint64
	DataAdded            uint64
	// TotalFiles and TotalBytes count the files the backup went through
	// and their size on disk, including those left out because they could
	// not be read or the filter dropped them (but not what is below a
	// dropped directory, which is not walked).
	TotalFiles, TotalBytes uint64
	// FilesRead and BytesRead count what was actually read from disk;
	// files reused from the parent are not read.
	FilesRead, BytesRead uint64
	// FilesRedacted counts files stored with records the filter removed.
	// FilesDropped and DirsDropped count the items it left out: a
	// directory once, whatever is below it; FilesDropped counts symlinks
	// and other items that are not directories too.
	FilesRedacted, FilesDropped, DirsDropped uint64
	// RecordsRemoved counts the records the filter removed, by format, as
	// its findings say (an item dropped whole normally counts as one).
	RecordsRemoved map[formats.Format]uint64
	// Errors counts items that were skipped because they could not be
	// read or the filter failed on them; the snapshot does not hold them.
	Errors uint64
}

// Incomplete reports whether items were skipped (restic exits with 3).
func (s Stats) Incomplete() bool { return s.Errors > 0 }

// Archiver makes snapshots.
type Archiver struct {
	repo  Repo
	opts  Options
	pol   chunker.Pol
	names *idNames
	bufs  sync.Pool
	hooks hooks
}

// hooks let tests change a file between the steps of reading it.
type hooks struct {
	beforeOpen, afterRead func(path string)
}

// New returns an archiver writing to repo.
func New(repo Repo, opts Options) *Archiver {
	if opts.FileWorkers <= 0 {
		opts.FileWorkers = 2
	}
	if opts.SaveWorkers <= 0 {
		opts.SaveWorkers = runtime.GOMAXPROCS(0)
	}
	a := &Archiver{
		repo:  repo,
		opts:  opts,
		pol:   repo.Config().ChunkerPolynomial,
		names: newIDNames(),
	}
	a.bufs.New = func() any {
		b := make([]byte, 0, chunkBufSize)
		return &b
	}
	return a
}

// chunkBufSize is the initial capacity of chunk buffers. Most chunks are
// between chunker.MinSize and twice the 1 MiB average; the rare larger
// ones grow their buffer, which is then not pooled (see putBuf), so that
// memory stays near what the chunks in flight need.
const chunkBufSize = 2 << 20

func (a *Archiver) putBuf(b *[]byte) {
	if cap(*b) <= 2*chunkBufSize {
		a.bufs.Put(b)
	}
}

// counters are Stats updated from several goroutines.
type counters struct {
	filesNew, filesChanged, filesUnmodified  atomic.Uint64
	dirsNew, dirsChanged, dirsUnmodified     atomic.Uint64
	dataBlobs, treeBlobs, dataAdded          atomic.Uint64
	totalFiles, totalBytes                   atomic.Uint64
	filesRead, bytesRead                     atomic.Uint64
	filesRedacted, filesDropped, dirsDropped atomic.Uint64
	errors                                   atomic.Uint64

	mu      sync.Mutex
	removed map[formats.Format]uint64
}

func (c *counters) addRemoved(f formats.Findings) {
	if f.Removed <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.removed == nil {
		c.removed = map[formats.Format]uint64{}
	}
	c.removed[f.Format] += uint64(f.Removed)
}

func (c *counters) stats() Stats {
	return Stats{
		FilesNew: c.filesNew.Load(), FilesChanged: c.filesChanged.Load(), FilesUnmodified: c.filesUnmodified.Load(),
		DirsNew: c.dirsNew.Load(), DirsChanged: c.dirsChanged.Load(), DirsUnmodified: c.dirsUnmodified.Load(),
		DataBlobs: c.dataBlobs.Load(), TreeBlobs: c.treeBlobs.Load(), DataAdded: c.dataAdded.Load(),
		TotalFiles: c.totalFiles.Load(), TotalBytes: c.totalBytes.Load(),
		FilesRead: c.filesRead.Load(), BytesRead: c.bytesRead.Load(),
		FilesRedacted: c.filesRedacted.Load(), FilesDropped: c.filesDropped.Load(), DirsDropped: c.dirsDropped.Load(),
		RecordsRemoved: c.removedCopy(),
		Errors:         c.errors.Load(),
	}
}

func (c *counters) removedCopy() map[formats.Format]uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.removed)
}

// Snapshot backs up targets and saves a snapshot. Items that cannot be
// read or that the filter fails on are passed to Options.Error and left
// out (Stats.Incomplete); any other failure returns an error and writes
// no snapshot.
func (a *Archiver) Snapshot(ctx context.Context, targets []string, opts SnapshotOptions) (*repository.Snapshot, Stats, error) {
	paths, err := cleanTargets(targets, a.show)
	if err != nil {
		return nil, Stats{}, err
	}
	existing := 0
	for _, p := range paths {
		if _, err := os.Lstat(p); err == nil {
			existing++
		}
	}
	if existing == 0 {
		return nil, Stats{}, fmt.Errorf("none of the backup targets exists")
	}

	var parentTree *repository.Tree
	if opts.Parent != nil && opts.Parent.Tree != nil {
		parentTree, err = a.loadTree(ctx, *opts.Parent.Tree)
		if err != nil {
			return nil, Stats{}, fmt.Errorf("loading tree of parent snapshot %s: %w", opts.Parent.ID.Str(), err)
		}
	}

	r := newRun(ctx, a, opts.Excludes)
	defer r.cancel(nil)
	if a.opts.Progress != nil {
		scanCtx, stopScan := context.WithCancel(r.ctx)
		scanDone := make(chan struct{})
		go func() {
			defer close(scanDone)
			scan(scanCtx, paths, opts.Excludes, a.opts.Progress)
		}()
		// No progress call may come after Snapshot returned.
		defer func() { stopScan(); <-scanDone }()
	}
	rootID, err := r.run(buildTargetTree(paths), opts.Parent, parentTree)
	stats := r.c.stats()
	if err != nil {
		return nil, stats, err
	}
	if err := a.repo.Flush(ctx); err != nil {
		return nil, stats, fmt.Errorf("flushing repository: %w", err)
	}

	sn := &repository.Snapshot{
		Time:           opts.Time,
		Tree:           &rootID,
		Paths:          paths,
		Hostname:       opts.Hostname,
		Tags:           opts.Tags,
		Excludes:       opts.Excludes,
		ProgramVersion: opts.ProgramVersion,
	}
	if sn.Time.IsZero() {
		sn.Time = time.Now()
	}
	if sn.Hostname == "" {
		sn.Hostname, _ = os.Hostname()
	}
	if opts.Parent != nil && !opts.Parent.ID.IsNull() {
		pid := opts.Parent.ID
		sn.Parent = &pid
	}
	fillUser(sn)
	if _, err := a.repo.SaveSnapshot(ctx, sn); err != nil {
		return nil, stats, fmt.Errorf("saving snapshot: %w", err)
	}
	return sn, stats, nil
}

// fillUser sets the snapshot's user fields as restic does.
func fillUser(sn *repository.Snapshot) {
	u, err := user.Current()
	if err != nil {
		return
	}
	sn.Username = u.Username
	if uid, err := strconv.ParseUint(u.Uid, 10, 32); err == nil {
		sn.UID = uint32(uid)
	}
	if gid, err := strconv.ParseUint(u.Gid, 10, 32); err == nil {
		sn.GID = uint32(gid)
	}
}

// errSkipped marks an item left out of the snapshot: reported through
// Options.Error, or dropped by the filter.
var errSkipped = errors.New("skipped")

// show returns path as the archiver may hand it out.
func (a *Archiver) show(path string) string {
	if a.opts.MaskPath != nil {
		return a.opts.MaskPath(path)
	}
	return path
}

// loadTree is repository.Repository.LoadTree over the smaller Repo
// interface.
func (a *Archiver) loadTree(ctx context.Context, id repository.ID) (*repository.Tree, error) {
	buf, err := a.repo.LoadBlob(ctx, repository.TreeBlob, id, nil)
	if err != nil {
		return nil, err
	}
	t, err := repository.DecodeTree(buf)
	if err != nil {
		return nil, fmt.Errorf("decoding tree %s: %w", id.Str(), err)
	}
	return t, nil
}
