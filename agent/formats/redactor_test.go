package formats

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"lethe/agent/formats/gen"
)

// bytesOpener opens data as a reader that does not know its size, as a
// file restored from a snapshot is, and counts how often it was opened.
func bytesOpener(data []byte, opens *int) func() (io.ReadCloser, error) {
	return func() (io.ReadCloser, error) {
		*opens++
		return io.NopCloser(bytes.NewReader(data)), nil
	}
}

// redactAllOf reads what Redact keeps (nil when nothing is kept).
func redactAllOf(t *testing.T, r *Redactor, name string, open func() (io.ReadCloser, error)) ([]byte, Findings) {
	t.Helper()
	rc, f, err := r.Redact(t.Context(), name, open)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if rc == nil {
		if !f.Dropped {
			t.Fatalf("%s: no content, but not dropped: %+v", name, f)
		}
		return nil, f
	}
	defer rc.Close()
	if f.Dropped {
		t.Fatalf("%s: dropped, but content returned", name)
	}
	var held []byte
	if h, ok := rc.(*HeldReader); ok {
		held = bytes.Clone(h.Bytes())
	}
	out, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("%s: reading the redacted content: %v", name, err)
	}
	if held != nil && !bytes.Equal(held, out) {
		t.Fatalf("%s: Bytes gives %d bytes, the reader %d", name, len(held), len(out))
	}
	return out, f
}

// TestRedactorDataset redacts every item of generated servers through a
// Redactor, from readers that do not know their size and from files, and
// checks the result is what `lethe redact` (formats.Redact) writes: the
// same items dropped, the same bytes kept, and findings that name exactly
// the subjects' records.
func TestRedactorDataset(t *testing.T) {
	for _, cfg := range datasetConfigs(t) {
		t.Run(fmt.Sprintf("seed%d-%dmsgs", cfg.Seed, cfg.Messages), func(t *testing.T) { testRedactorDataset(t, generate(t, cfg)) })
	}
}

func testRedactorDataset(t *testing.T, ds *gen.Dataset) {
	m := subjectMatcher(t, ds)
	opts := datasetOptions(t, ds)
	out := t.TempDir()
	if _, err := Redact(t.Context(), []string{ds.Root}, out, m, opts); err != nil {
		t.Fatal(err)
	}
	records := make(map[string]int) // subject records per file that is not wholly one
	dropWant := make(map[string]bool)
	for _, p := range ds.Records {
		switch {
		case p.Format == string(FormatName) || p.Format == string(FormatPath):
			dropWant[p.Path] = true
		case !p.Whole:
			records[p.Path]++
		}
	}
	for p := range dropWant {
		for d := path.Dir(p); d != "."; d = path.Dir(d) {
			if dropWant[d] {
				delete(dropWant, p) // below a dropped folder: never asked about
			}
		}
	}

	r := NewRedactor(m, opts)
	dropped := make(map[string]bool)
	err := filepath.WalkDir(ds.Root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == ds.Root {
			return err
		}
		rel, _ := filepath.Rel(ds.Root, p)
		rel = filepath.ToSlash(rel)
		dst := filepath.Join(out, filepath.FromSlash(rel))
		if f, drop := r.DecidePath(rel, d.IsDir()); drop {
			dropped[rel] = true
			if (f.Format != FormatName && f.Format != FormatPath) || !f.Dropped || f.Removed != 1 || len(f.Refs) == 0 || len(f.Kinds) == 0 {
				t.Errorf("%s: dropped with findings %+v", rel, f)
			}
			if _, err := os.Lstat(dst); err == nil {
				t.Errorf("%s: dropped by the Redactor, written by Redact", rel)
			}
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		want, err := os.ReadFile(dst)
		if errors.Is(err, fs.ErrNotExist) {
			want = nil
		} else if err != nil {
			return err
		}
		opens := 0
		got, f := redactAllOf(t, r, rel, bytesOpener(data, &opens))
		if !bytes.Equal(got, want) || (got == nil) != (want == nil) {
			t.Errorf("%s: the Redactor keeps %d bytes, Redact wrote %d", rel, len(got), len(want))
		}
		fromFile, ff := redactAllOf(t, r, rel, func() (io.ReadCloser, error) { return os.Open(p) })
		fromBytes, fb := r.RedactBytes(rel, data)
		if !bytes.Equal(fromFile, got) || !bytes.Equal(fromBytes, got) || (fromBytes == nil) != (got == nil) {
			t.Errorf("%s: a reader, a file and bytes give different content", rel)
		}
		if !findingsEqual(f, ff) || !findingsEqual(f, fb) {
			t.Errorf("%s: findings differ: reader %+v, file %+v, bytes %+v", rel, f, ff, fb)
		}
		switch n := records[rel]; {
		case f.Removed == 0:
			if !bytes.Equal(got, data) {
				t.Errorf("%s: changed without a hit", rel)
			}
			if len(f.Refs) != 0 || f.Dropped {
				t.Errorf("%s: findings without a hit: %+v", rel, f)
			}
		case n > 0 && !f.Dropped && f.Removed != n:
			t.Errorf("%s: %d records removed, the data set has %d", rel, f.Removed, n)
		case len(f.Refs) == 0 || len(f.Kinds) == 0:
			t.Errorf("%s: records removed, no refs or kinds: %+v", rel, f)
		}
		if f.Removed > f.Records {
			t.Errorf("%s: %d of %d records removed", rel, f.Removed, f.Records)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for p := range dropWant {
		if !dropped[p] {
			t.Errorf("%s: wholly the subject's by name or path rule, not dropped", p)
		}
	}
}

func findingsEqual(a, b Findings) bool {
	return a.Format == b.Format && a.Records == b.Records && a.Removed == b.Removed && a.Dropped == b.Dropped &&
		slices.Equal(a.Refs, b.Refs) && slices.Equal(a.Kinds, b.Kinds) && a.Fallback == b.Fallback && a.Tried == b.Tried
}

// bigText is clean text of n bytes or a little more.
func bigText(n int) []byte {
	var b bytes.Buffer
	for i := 0; b.Len() < n; i++ {
		fmt.Fprintf(&b, "rad %d: inget att se här, order %d\n", i, i*7)
	}
	return b.Bytes()
}

// TestRedactorLarge covers content larger than MaxSize: scanned as a
// stream, dropped whole on a hit, else opened again and passed on as it is,
// checked as it passes.
func TestRedactorLarge(t *testing.T) {
	m := newMatcher(t, "email="+tEmail)
	opts := &Options{MaxSize: 1 << 10}
	r := NewRedactor(m, opts)
	clean := bigText(streamChunk + streamChunk/2) // two windows
	dir := t.TempDir()
	file := filepath.Join(dir, "stor.log")
	if err := os.WriteFile(file, clean, 0o600); err != nil {
		t.Fatal(err)
	}

	t.Run("clean", func(t *testing.T) {
		opens := 0
		got, f := redactAllOf(t, r, "stor.log", bytesOpener(clean, &opens))
		if !bytes.Equal(got, clean) {
			t.Errorf("content changed: %d bytes of %d", len(got), len(clean))
		}
		if opens != 2 {
			t.Errorf("opened %d times, want 2 (scan, then pass on)", opens)
		}
		want := Findings{Format: FormatFallback, Records: 1}
		if !findingsEqual(f, want) {
			t.Errorf("findings %+v, want %+v", f, want)
		}
		got, ff := redactAllOf(t, r, file, func() (io.ReadCloser, error) { return os.Open(file) })
		if !bytes.Equal(got, clean) || !findingsEqual(ff, want) {
			t.Errorf("from a file: %d bytes, %+v", len(got), ff)
		}
		if out, fb := r.RedactBytes("stor.log", clean); !bytes.Equal(out, clean) || !findingsEqual(fb, want) {
			t.Errorf("RedactBytes: %d bytes, %+v", len(out), fb)
		}
	})

	// The address crosses the border of the stream's first window, and
	// it is written in UTF-16 far into the second.
	border := streamOverlap + streamChunk
	for _, at := range []int{border - 10, len(clean) - 100} {
		hit := slices.Clone(clean)
		id := []byte(" " + tEmail + " ")
		if at > border {
			id = utf16le(" " + tEmail + " ")
		}
		copy(hit[at:], id)
		t.Run(fmt.Sprintf("hit at %d", at), func(t *testing.T) {
			opens := 0
			got, f := redactAllOf(t, r, "stor.log", bytesOpener(hit, &opens))
			want := Findings{Format: FormatFallback, Records: 1, Removed: 1, Dropped: true, Refs: []string{"identifier-1"}, Kinds: []Kind{KindEmail}}
			if got != nil || !findingsEqual(f, want) {
				t.Errorf("findings %+v, want %+v", f, want)
			}
			if opens != 1 {
				t.Errorf("opened %d times, want 1", opens)
			}
			if out, fb := r.RedactBytes("stor.log", hit); out != nil || !findingsEqual(fb, want) {
				t.Errorf("RedactBytes: %d bytes, %+v", len(out), fb)
			}
		})
	}

	// A live file that gains the subject between the scan and the pass.
	for _, at := range []int{100, border - 10, len(clean) - 100} {
		changed := slices.Clone(clean)
		copy(changed[at:], " "+tEmail+" ")
		t.Run(fmt.Sprintf("changed at %d", at), func(t *testing.T) {
			opens := 0
			rc, f, err := r.Redact(t.Context(), "stor.log", func() (io.ReadCloser, error) {
				opens++
				if opens == 1 {
					return io.NopCloser(bytes.NewReader(clean)), nil
				}
				return io.NopCloser(bytes.NewReader(changed)), nil
			})
			if err != nil || rc == nil || f.Removed != 0 {
				t.Fatalf("%v, %+v", err, f)
			}
			defer rc.Close()
			got, err := io.ReadAll(rc)
			if !errors.Is(err, ErrContentChanged) {
				t.Fatalf("reading changed content: %v", err)
			}
			if bytes.Contains(got, []byte(tEmail)) || !bytes.Equal(got, changed[:len(got)]) {
				t.Errorf("passed on %d bytes holding the identifier or not from the content", len(got))
			}
			if len(got) > at {
				t.Errorf("passed on %d bytes, into the identifier at %d", len(got), at)
			}
		})
	}

	t.Run("canceled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		opens := 0
		if _, _, err := r.Redact(ctx, "stor.log", bytesOpener(clean, &opens)); !errors.Is(err, context.Canceled) {
			t.Errorf("canceled: %v", err)
		}
	})
}

func utf16le(s string) []byte {
	var b []byte
	for _, c := range []byte(s) {
		b = append(b, c, 0)
	}
	return b
}

// TestRedactorConcurrent redacts files from many goroutines through one
// Redactor and gets what one goroutine gets.
func TestRedactorConcurrent(t *testing.T) {
	ds := generate(t, gen.SmallConfig(42))
	r := NewRedactor(subjectMatcher(t, ds), datasetOptions(t, ds))
	type result struct {
		out []byte
		f   Findings
	}
	var files [][]byte
	var want []result
	for _, f := range ds.Files {
		data, err := os.ReadFile(filepath.Join(ds.Root, filepath.FromSlash(f)))
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, data)
		out, fi := r.RedactBytes(f, data)
		want = append(want, result{slices.Clone(out), fi})
	}
	var wg sync.WaitGroup
	errs := make(chan string, 8)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range files {
				j := (i + g*len(files)/8) % len(files) // each goroutine starts elsewhere
				var out []byte
				var f Findings
				if g%2 == 0 {
					out, f = r.RedactBytes(ds.Files[j], files[j])
				} else {
					rc, fi, err := r.Redact(context.Background(), ds.Files[j], func() (io.ReadCloser, error) {
						return io.NopCloser(bytes.NewReader(files[j])), nil
					})
					if err == nil && rc != nil {
						out, err = io.ReadAll(rc)
						rc.Close()
					}
					if err != nil {
						errs <- err.Error()
						return
					}
					f = fi
				}
				if !bytes.Equal(out, want[j].out) || !findingsEqual(f, want[j].f) {
					errs <- ds.Files[j]
					return
				}
				r.DecidePath(ds.Files[j], false)
				r.MaskPath(ds.Files[j])
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Errorf("concurrent redaction differs: %s", e)
	}
}

func TestDecidePath(t *testing.T) {
	rule, err := ParsePathRule("kunder/{kundnr}/**")
	if err != nil {
		t.Fatal(err)
	}
	r := NewRedactor(allMatcher(t), &Options{PathRules: []PathRule{rule}})
	for _, c := range []struct {
		rel    string
		isDir  bool
		format Format
		kinds  []Kind
	}{
		{"kunder/K-12345", true, FormatPath, kindsOf(Kind("custom:kundnr"))},
		{"kunder/K-12345/avtal.txt", false, FormatPath, kindsOf(Kind("custom:kundnr"))},
		{"/kunder/K-12345/", true, FormatPath, kindsOf(Kind("custom:kundnr"))},
		{"inskannat/19800101-1231_id-kort.pdf", false, FormatName, kindsOf(KindPersonnummer)},
		{"mail/" + tEmail, true, FormatName, kindsOf(KindEmail)},
		{"ring 070-123 45 67.txt", false, FormatName, kindsOf(KindPhone)},
		{"kunder/K-10000/avtal.txt", false, "", nil},
		{"arkiv/kunder/K-12345", true, FormatName, kindsOf(Kind("custom:kundnr"))}, // the rule is anchored; the name still counts
		{tEmail + "/x.txt", false, "", nil},                                        // only the item's own name
		{"x" + tEmail + ".pdf", false, "", nil},
		{"Anna Svensson.pdf", false, "", nil}, // names are never matched in free text
		{"", true, "", nil},
	} {
		f, drop := r.DecidePath(c.rel, c.isDir)
		if drop != (c.format != "") || f.Format != c.format || !slices.Equal(f.Kinds, c.kinds) {
			t.Errorf("DecidePath(%q) = %+v, %v", c.rel, f, drop)
			continue
		}
		if drop && (!f.Dropped || f.Records != 1 || f.Removed != 1 || len(f.Refs) != 1 || !strings.HasPrefix(f.Refs[0], "identifier-")) {
			t.Errorf("DecidePath(%q) findings %+v", c.rel, f)
		}
	}
}

func TestMaskPath(t *testing.T) {
	rule, err := ParsePathRule("kunder/{name}/**")
	if err != nil {
		t.Fatal(err)
	}
	r := NewRedactor(allMatcher(t), &Options{PathRules: []PathRule{rule}})
	for in, want := range map[string]string{
		"/srv/kunder/K-12345/avtal.txt":                 "/srv/kunder/" + pathMask + "/avtal.txt",
		"/srv/inskannat/19800101-1231_id-kort.pdf":      "/srv/inskannat/" + pathMask,
		"/home/" + tEmail + "/Maildir/cur/1:2,S":        "/home/" + pathMask + "/Maildir/cur/1:2,S",
		"kunder/Anna Svensson/cv.pdf":                   "kunder/" + pathMask + "/cv.pdf",
		"/srv/Anna Svensson.pdf":                        "/srv/" + pathMask,
		"ring 070-123 45 67.vcf":                        pathMask,
		"/srv/org/556677-8899/" + tSamord + "/x":        "/srv/org/" + pathMask + "/" + pathMask + "/x",
		"/srv/ok/fil.txt":                               "/srv/ok/fil.txt",
		"/srv/x" + tEmail + "/a":                        "/srv/x" + tEmail + "/a",
		"open /srv/" + tEmail + "/a: permission denied": "open /srv/" + pathMask + "/a: permission denied",
		"":  "",
		"/": "/",
	} {
		if got := r.MaskPath(in); got != want {
			t.Errorf("MaskPath(%q) = %q, want %q", in, got, want)
		}
	}
	// The mask is the same whoever it hides.
	if a, b := r.MaskPath(tEmail), r.MaskPath(tPnr); a != b || a != pathMask {
		t.Errorf("masks %q and %q", a, b)
	}
	if r := NewRedactor(nil, nil); r.MaskPath("/srv/"+tEmail) != "/srv/"+tEmail {
		t.Error("a redactor without matcher masked a path")
	}
}

// TestRedactErrorsMasked: errors from reading content and from walking
// trees do not name a subject's file.
func TestRedactErrorsMasked(t *testing.T) {
	m := allMatcher(t)
	r := NewRedactor(m, nil)
	secret := "/srv/" + tEmail + "/x.txt"
	_, _, err := r.Redact(t.Context(), "x.txt", func() (io.ReadCloser, error) {
		return nil, &fs.PathError{Op: "open", Path: secret, Err: fs.ErrPermission}
	})
	if err == nil || strings.Contains(err.Error(), "anna") || !errors.Is(err, fs.ErrPermission) {
		t.Errorf("open error: %v", err)
	}
	_, _, err = r.Redact(t.Context(), "x.txt", func() (io.ReadCloser, error) {
		return io.NopCloser(io.MultiReader(strings.NewReader("abc"), errReader{&fs.PathError{Op: "read", Path: secret, Err: fs.ErrClosed}})), nil
	})
	if err == nil || strings.Contains(err.Error(), "anna") || !errors.Is(err, fs.ErrClosed) {
		t.Errorf("read error: %v", err)
	}
	root := filepath.Join(t.TempDir(), tEmail)
	if _, err := Redact(t.Context(), []string{root}, t.TempDir(), m, nil); err == nil || strings.Contains(err.Error(), "anna") {
		t.Errorf("Redact of a missing root: %v", err)
	}
	if err := Scan(t.Context(), []string{root}, m, nil, func(Hit) {}); err == nil || strings.Contains(err.Error(), "anna") {
		t.Errorf("Scan of a missing root: %v", err)
	}
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

// TestRedactUnchanged checks that the start Redact says a redaction left
// unchanged is the start of what was read, in every file of a generated
// server, and that it reaches up to the first record removed.
func TestRedactUnchanged(t *testing.T) {
	ds := generate(t, gen.SmallConfig(2026))
	red := NewRedactor(subjectMatcher(t, ds), datasetOptions(t, ds))
	inside := 0
	for _, f := range ds.Files {
		data, err := os.ReadFile(filepath.Join(ds.Root, filepath.FromSlash(f)))
		if err != nil {
			t.Fatal(err)
		}
		rc, fnd, err := red.Redact(t.Context(), path.Base(f), func() (io.ReadCloser, error) {
			return io.NopCloser(bytes.NewReader(slices.Clone(data))), nil
		})
		if err != nil {
			t.Fatal(err)
		}
		h, ok := rc.(*HeldReader)
		if !ok {
			continue
		}
		out, u := h.Bytes(), h.Unchanged()
		if u > len(out) || !bytes.Equal(out[:u], data[:u]) {
			t.Errorf("%s: the first %d bytes are said unchanged, and are not", f, u)
		}
		if fnd.Removed == 0 && u != len(data) {
			t.Errorf("%s: nothing removed, but only %d of %d bytes unchanged", f, u, len(data))
		}
		if fnd.Removed > 0 && !fnd.Dropped && u > 0 && u < len(out) {
			inside++
			if res := NewScanner(subjectMatcher(t, ds), datasetOptions(t, ds)).Scan(path.Base(f), data); len(res.Records) > 0 && u > int(res.Records[0].Offset) {
				t.Errorf("%s: %d bytes unchanged, past the first record removed at %d", f, u, res.Records[0].Offset)
			}
		}
	}
	if inside == 0 {
		t.Error("no redaction left a start unchanged")
	}
}
