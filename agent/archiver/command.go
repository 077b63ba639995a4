package archiver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"lethe/agent/formats"
	"lethe/agent/repository"

	"github.com/restic/chunker"
)

// StreamFileMode is the mode of a file backed up from a stream: a
// database dump is nobody's but the owner's business.
const StreamFileMode = 0o600

// Command is a program whose standard output is backed up as one file,
// as restic's --stdin-from-command does.
type Command struct {
	// Args are the program and its arguments; it runs without a shell.
	Args []string
	// Env is its environment; nil: the agent's.
	Env []string
	// Dir is its working directory; empty: the agent's.
	Dir string
	// Stderr receives its standard error; nil: discarded. A command's
	// messages can name anything it read, so the caller decides where
	// they may go.
	Stderr io.Writer
	// StopTimeout is how long the command has to exit after it was sent
	// SIGTERM because the backup was cancelled, before it is killed
	// (default 10s).
	StopTimeout time.Duration
}

// program names the command in errors: its base name only, as its
// arguments may hold anything.
func (c *Command) program() string {
	if len(c.Args) == 0 {
		return "(none)"
	}
	return filepath.Base(c.Args[0])
}

// SnapshotCommand runs the command and backs up its standard output as
// the file name at the root of a new snapshot (snapshot path "/name").
// The snapshot is saved only when the command exits successfully: a dump
// cut short by a failing command is not kept as a backup.
func (a *Archiver) SnapshotCommand(ctx context.Context, c Command, name string, opts SnapshotOptions) (*repository.Snapshot, Stats, error) {
	if len(c.Args) == 0 {
		return nil, Stats{}, errors.New("command source: no command given")
	}
	if err := checkStreamName(name); err != nil {
		return nil, Stats{}, err
	}
	cmd := exec.CommandContext(ctx, c.Args[0], c.Args[1:]...)
	cmd.Env = c.Env
	cmd.Dir = c.Dir
	cmd.Stderr = c.Stderr
	// A cancelled backup asks the command to stop, so a database dump
	// ends its transaction cleanly, and kills it if it does not.
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = c.StopTimeout
	if cmd.WaitDelay <= 0 {
		cmd.WaitDelay = 10 * time.Second
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, Stats{}, fmt.Errorf("command %s: %w", c.program(), err)
	}
	if err := cmd.Start(); err != nil {
		return nil, Stats{}, fmt.Errorf("starting command %s: %w", c.program(), bare(err))
	}
	rc := &commandOutput{cmd: cmd, out: out, program: c.program()}
	defer rc.Close()
	return a.SnapshotReader(ctx, name, rc, opts)
}

// commandOutput is a running command's standard output; Close waits for
// the command and fails unless it exited successfully.
type commandOutput struct {
	cmd     *exec.Cmd
	out     io.ReadCloser
	program string

	once sync.Once
	err  error
}

func (c *commandOutput) Read(p []byte) (int, error) { return c.out.Read(p) }

func (c *commandOutput) Close() error {
	c.once.Do(func() {
		// Closing the pipe first ends a command still writing (the
		// backup failed before the end): it gets EPIPE or SIGPIPE.
		_ = c.out.Close()
		if err := c.cmd.Wait(); err != nil {
			c.err = fmt.Errorf("command %s failed: %w", c.program, err)
		}
	})
	return c.err
}

// checkStreamName checks that name can be a file at the snapshot's root.
func checkStreamName(name string) error {
	if name == "" || name == "." || name == ".." || strings.ContainsAny(name, "/\x00") {
		return fmt.Errorf("invalid file name %q for a stream: want a plain name", name)
	}
	return nil
}

// SnapshotReader backs up what rc yields as the file name at the root of
// a new snapshot (snapshot path "/name"), as restic backs up standard
// input. It reads rc to the end and closes it; an error reading or
// closing it saves no snapshot, so a source that reports failure only
// when it ends (a command's exit status) leaves no partial backup behind.
//
// The filter, when set, is asked about "/name" as about a file on disk;
// its FilterContent may open the content once only. Unchanged content is
// counted against the parent snapshot's file of the same name, but it is
// always read: a stream cannot be compared without reading it.
func (a *Archiver) SnapshotReader(ctx context.Context, name string, src io.ReadCloser, opts SnapshotOptions) (*repository.Snapshot, Stats, error) {
	rc := &onceCloser{ReadCloser: src}
	defer rc.Close()
	if err := checkStreamName(name); err != nil {
		return nil, Stats{}, err
	}
	path := "/" + name
	var old *repository.Node
	if opts.Parent != nil && opts.Parent.Tree != nil {
		t, err := a.loadTree(ctx, *opts.Parent.Tree)
		if err != nil {
			return nil, Stats{}, fmt.Errorf("loading tree of parent snapshot %s: %w", opts.Parent.ID.Str(), err)
		}
		if n := t.Find(name); n != nil && n.Type == repository.NodeFile {
			old = n
		}
	}
	ts := opts.Time
	if ts.IsZero() {
		ts = time.Now()
	}
	node := &repository.Node{
		Name:       name,
		Type:       repository.NodeFile,
		Mode:       StreamFileMode,
		ModTime:    ts,
		AccessTime: ts,
		ChangeTime: ts,
		UID:        uint32(os.Getuid()),
		GID:        uint32(os.Getgid()),
	}

	// Read errors fail the backup here, so the archiver's error callback
	// (which skips an item and goes on) is not the one to tell.
	sa := New(a.repo, Options{
		SaveWorkers: a.opts.SaveWorkers,
		Progress:    a.opts.Progress,
		Filter:      a.opts.Filter,
		Found:       a.opts.Found,
		MaskPath:    a.opts.MaskPath,
	})
	r := newRun(ctx, sa, nil)
	defer r.cancel(nil)
	var blobWG sync.WaitGroup
	for i := 0; i < sa.opts.SaveWorkers; i++ {
		blobWG.Add(1)
		go func() {
			defer blobWG.Done()
			r.blobWorker()
		}()
	}
	entries, err := r.streamEntries(path, node, old, &streamReader{r: rc, run: r})
	close(r.blobCh)
	blobWG.Wait()
	if err == nil {
		err = r.failure()
	}
	if err != nil {
		return nil, r.c.stats(), err
	}
	// The content is complete only once the source says so.
	if err := rc.Close(); err != nil {
		return nil, r.c.stats(), err
	}
	root := &dirJob{path: "/", entries: entries, done: make(chan struct{})}
	if err := r.saveDir(root); err != nil {
		return nil, r.c.stats(), err
	}
	stats := r.c.stats()
	if err := a.repo.Flush(ctx); err != nil {
		return nil, stats, fmt.Errorf("flushing repository: %w", err)
	}
	sn := &repository.Snapshot{
		Time:           ts,
		Tree:           &root.id,
		Paths:          []string{path},
		Hostname:       opts.Hostname,
		Tags:           opts.Tags,
		ProgramVersion: opts.ProgramVersion,
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

// streamEntries stores the stream's content and returns the root tree's
// entries: the file, or none when the filter dropped it.
func (r *run) streamEntries(path string, node, old *repository.Node, src *streamReader) ([]entry, error) {
	r.c.totalFiles.Add(1)
	if p := r.a.opts.Progress; p != nil {
		shown := r.a.show(path)
		p.Start(shown)
		defer p.Done(shown)
	}
	var in io.Reader = src
	var found formats.Findings
	filtered := false
	if f := r.a.opts.Filter; f != nil {
		d, fnd, err := f.Decide(r.ctx, path, node)
		if err != nil {
			return nil, fmt.Errorf("filter deciding on %s: %w", r.a.show(path), err)
		}
		switch d {
		case formats.Keep:
		case formats.Drop:
			r.dropped(path, node, fnd)
			return nil, src.drain()
		case formats.Filter:
			opened := false
			rc, fnd, err := f.FilterContent(r.ctx, path, node, func() (io.ReadCloser, error) {
				if opened {
					return nil, errors.New("a stream can be read once only")
				}
				opened = true
				return io.NopCloser(src), nil
			})
			if err != nil {
				if rc != nil {
					rc.Close()
				}
				return nil, fmt.Errorf("filtering content of %s: %w", r.a.show(path), err)
			}
			if rc == nil || fnd.Dropped {
				if rc != nil {
					rc.Close()
				}
				r.dropped(path, node, fnd)
				return nil, src.drain()
			}
			defer rc.Close()
			in, found, filtered = rc, fnd, true
		default:
			return nil, fmt.Errorf("filter returned unknown decision %d for %s", d, r.a.show(path))
		}
	}

	ch := chunker.New(nil, r.a.pol)
	content, size, err := r.chunk(path, in, ch, "reading stream")
	if errors.Is(err, errSkipped) {
		// chunk reported a read error; the stream's own is the cause.
		if src.err != nil {
			err = src.err
		} else {
			err = fmt.Errorf("reading the content of %s failed", r.a.show(path))
		}
	}
	if err != nil {
		return nil, err
	}
	if filtered {
		if c, ok := in.(io.Closer); ok {
			if err := c.Close(); err != nil {
				return nil, fmt.Errorf("filtering content of %s: %w", r.a.show(path), err)
			}
		}
		// What the filter did not read of the stream is still read, so
		// that a command's exit status says whether it finished.
		if err := src.drain(); err != nil {
			return nil, err
		}
	}
	r.c.filesRead.Add(1)
	r.c.totalBytes.Add(src.n)
	node.Size = size
	node.Content = content
	switch {
	case old == nil:
		r.c.filesNew.Add(1)
	case equalIDs(old.Content, content):
		r.c.filesUnmodified.Add(1)
	default:
		r.c.filesChanged.Add(1)
	}
	if filtered {
		if found.Removed > 0 {
			r.c.filesRedacted.Add(1)
		}
		r.c.addRemoved(found)
		if r.a.opts.Found != nil {
			r.a.opts.Found(r.a.show(path), node, found)
		}
	}
	return []entry{{node: node}}, nil
}

func equalIDs(a, b repository.IDs) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// streamReader counts what is read from a stream, keeps its first error
// and stops reading once the backup is aborted.
type streamReader struct {
	r   io.Reader
	run *run
	n   uint64
	err error
}

func (s *streamReader) Read(p []byte) (int, error) {
	if err := s.run.ctx.Err(); err != nil {
		return 0, context.Cause(s.run.ctx)
	}
	n, err := s.r.Read(p)
	s.n += uint64(n)
	s.run.c.bytesRead.Add(uint64(n))
	if err != nil && err != io.EOF && s.err == nil {
		s.err = fmt.Errorf("reading stream: %w", err)
	}
	return n, err
}

// drain reads the rest of the stream.
func (s *streamReader) drain() error {
	if _, err := io.Copy(io.Discard, s); err != nil {
		if s.err != nil {
			return s.err
		}
		return err
	}
	return nil
}

// onceCloser closes its ReadCloser once and returns that error on every
// call.
type onceCloser struct {
	io.ReadCloser
	once sync.Once
	err  error
}

func (c *onceCloser) Close() error {
	c.once.Do(func() { c.err = c.ReadCloser.Close() })
	return c.err
}
