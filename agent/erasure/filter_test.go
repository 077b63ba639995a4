package erasure

import (
	"bytes"
	"context"
	"io"
	"testing"

	"lethe/agent/formats"
	"lethe/agent/repository"
	"lethe/tombstones"
)

func testRedactor(t *testing.T) *formats.Redactor {
	t.Helper()
	n, err := tombstones.NewNormalizer("SE", nil)
	if err != nil {
		t.Fatal(err)
	}
	m, err := tombstones.NewIdentifierMatcher(n, []tombstones.Identifier{
		{Kind: tombstones.KindEmail, Value: "anna.svensson@example.se"},
		{Kind: tombstones.KindPersonnummer, Value: "19800101-1231"},
		{Kind: tombstones.KindName, Value: "Anna Svensson"},
	})
	if err != nil {
		t.Fatal(err)
	}
	rule, err := formats.ParsePathRule("kunder/{name}/**")
	if err != nil {
		t.Fatal(err)
	}
	return formats.NewRedactor(m, &formats.Options{PathRules: []formats.PathRule{rule}})
}

func TestFilterDecide(t *testing.T) {
	f := NewFilter(testRedactor(t), []string{"/srv/data", "/var/mail"}, nil)
	dir := &repository.Node{Type: repository.NodeDir}
	file := &repository.Node{Type: repository.NodeFile}
	link := &repository.Node{Type: repository.NodeSymlink}
	for _, c := range []struct {
		path string
		node *repository.Node
		want formats.Decision
	}{
		{"/srv", dir, formats.Keep},
		{"/srv/data", dir, formats.Keep},
		{"/srv/data/kunder", dir, formats.Keep},
		// The path rule applies relative to the target, not to "/"; a
		// name alone is never matched in a file name.
		{"/srv/data/kunder/Anna Svensson", dir, formats.Drop},
		{"/srv/data/kunder/Bo Ek", dir, formats.Keep},
		{"/srv/data/kunder/Anna Svensson/x.txt", file, formats.Drop},
		{"/srv/data/arkiv/Anna Svensson", dir, formats.Keep},
		{"/kunder/Anna Svensson", dir, formats.Keep},
		{"/srv/data/198001011231.pdf", file, formats.Drop},
		{"/var/mail/anna.svensson@example.se.eml", file, formats.Drop},
		{"/var/mail/anna.svensson@example.se", dir, formats.Drop},
		{"/var/mail/anna.svensson@example.se.lnk", link, formats.Drop},
		{"/var/mail/inbox", file, formats.Filter},
		{"/var/mail/inbox", link, formats.Keep},
		// A root itself is matched by its name.
		{"/var/mail", dir, formats.Keep},
	} {
		d, fnd, err := f.Decide(context.Background(), c.path, c.node)
		if err != nil {
			t.Fatal(err)
		}
		if d != c.want {
			t.Errorf("%s (%s): decision %d, want %d", c.path, c.node.Type, d, c.want)
		}
		if d == formats.Drop && (!fnd.Dropped || len(fnd.Refs) == 0) {
			t.Errorf("%s: dropped without findings: %+v", c.path, fnd)
		}
	}
}

type screen map[string]bool

func (s screen) MayHold(n *repository.Node) bool { return s[n.Name] }

func TestFilterScreenAndContent(t *testing.T) {
	f := NewFilter(testRedactor(t), []string{"/srv"}, screen{"kunder.csv": true})
	other := &repository.Node{Name: "notes.txt", Type: repository.NodeFile}
	if d, _, _ := f.Decide(context.Background(), "/srv/notes.txt", other); d != formats.Keep {
		t.Errorf("a file the screen rules out: decision %d, want Keep", d)
	}
	csv := &repository.Node{Name: "kunder.csv", Type: repository.NodeFile}
	if d, _, _ := f.Decide(context.Background(), "/srv/kunder.csv", csv); d != formats.Filter {
		t.Fatalf("a file the screen keeps in: decision %d, want Filter", d)
	}
	in := "kundnr,namn,epost\nK-1,Anna,anna.svensson@example.se\nK-2,Bo,bo@example.se\n"
	rc, fnd, err := f.FilterContent(context.Background(), "/srv/kunder.csv", csv, func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader([]byte(in))), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(rc)
	rc.Close()
	if err != nil {
		t.Fatal(err)
	}
	if want := "kundnr,namn,epost\nK-2,Bo,bo@example.se\n"; string(out) != want {
		t.Errorf("filtered content %q, want %q", out, want)
	}
	if fnd.Format != formats.FormatCSV || fnd.Removed != 1 || len(fnd.Refs) != 1 {
		t.Errorf("findings %+v", fnd)
	}
}
