package repository

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"
)

// TestCheckTrees: Check's tree walk names a missing tree, a directory
// without subtree and a file whose data is not indexed, each once even
// when several snapshots share the damaged trees, and it still walks the
// intact parts.
func TestCheckTrees(t *testing.T) {
	ctx := context.Background()
	r, _ := newTestRepo(t, Options{})
	missingTree := Hash([]byte("no such tree"))
	missingData := Hash([]byte("no such data"))
	inner := &Tree{}
	for _, n := range []*Node{
		{Name: "gone", Type: NodeDir, Mode: os.ModeDir | 0o755, Subtree: &missingTree},
		{Name: "nosub", Type: NodeDir, Mode: os.ModeDir | 0o755},
		{Name: "lost.txt", Type: NodeFile, Mode: 0o644, Size: 3, Content: IDs{missingData}},
	} {
		if err := inner.Insert(n); err != nil {
			t.Fatal(err)
		}
	}
	innerID, err := r.SaveTree(ctx, inner)
	if err != nil {
		t.Fatal(err)
	}
	for i, other := range []string{"one", "two"} {
		root := &Tree{}
		for _, n := range []*Node{
			{Name: "shared", Type: NodeDir, Mode: os.ModeDir | 0o755, Subtree: &innerID},
			{Name: other, Type: NodeFile, Mode: 0o644, Content: IDs{}},
		} {
			if err := root.Insert(n); err != nil {
				t.Fatal(err)
			}
		}
		rootID, err := r.SaveTree(ctx, root)
		if err != nil {
			t.Fatal(err)
		}
		if err := r.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := r.SaveSnapshot(ctx, &Snapshot{Time: time.Unix(int64(i+1), 0), Tree: &rootID, Paths: []string{"/x"}}); err != nil {
			t.Fatal(err)
		}
	}

	res, err := r.Check(ctx, CheckOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range res.Errors {
		got = append(got, e.Error())
	}
	want := []string{
		"tree " + missingTree.String() + ": loading tree blob " + missingTree.String() + ": not in index",
		"tree " + innerID.String() + `: file "lost.txt": data blob 0 (` + missingData.String() + ") not in index",
		"tree " + innerID.String() + `: directory "nosub" has no subtree`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("check errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	// Names are quoted as MaskName gives them.
	res, err = r.Check(ctx, CheckOptions{MaskName: func(n string) string {
		if n == "lost.txt" {
			return "[redacted]"
		}
		return n
	}})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range res.Errors {
		if strings.Contains(e.Error(), "lost.txt") {
			t.Errorf("masked name quoted: %v", e)
		}
	}
}
