package repository

import (
	"strings"
	"testing"
	"time"
)

func TestTreeNameQuoting(t *testing.T) {
	names := []string{"plain", "new\nline", `back\slash`, `quote"d`, "tab\tx", "ünï", "bad\xffutf8", "\x00nul"}
	var nodes []*Node
	for _, n := range names {
		nodes = append(nodes, &Node{Name: n, Type: NodeFile, ModTime: time.Unix(1e9, 0).UTC(), Content: IDs{}})
	}
	buf, err := EncodeTree(&Tree{Nodes: nodes})
	if err != nil {
		t.Fatal(err)
	}
	// restic's encoding of these names.
	for _, want := range []string{`"name":"new\\nline"`, `"name":"back\\\\slash"`, `"name":"quote\\\"d"`, `"name":"bad\\xffutf8"`, `"name":"ünï"`, `"content":[]`} {
		if !strings.Contains(string(buf), want) {
			t.Errorf("encoding lacks %s:\n%s", want, buf)
		}
	}
	tr, err := DecodeTree(buf)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, n := range tr.Nodes {
		got[n.Name] = true
	}
	for _, n := range names {
		if !got[n] {
			t.Errorf("name %q lost in round trip", n)
		}
	}
	if _, err := EncodeTree(&Tree{Nodes: []*Node{{Name: "a"}, {Name: "a"}}}); err == nil {
		t.Error("duplicate names encoded")
	}
	if _, err := DecodeTree([]byte(`{"nodes":[{"name":"a\nb","type":"file"}]}`)); err == nil {
		t.Error("unquoted control character in a name accepted")
	}
}

func FuzzDecodeTree(f *testing.F) {
	f.Add([]byte(`{"nodes":[{"name":"a\\nb","type":"file","content":[]}]}`))
	f.Add([]byte(`{"nodes":[]}`))
	f.Add([]byte(`{"nodes":[null]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		tr, err := DecodeTree(b)
		if err != nil {
			return
		}
		buf, err := EncodeTree(tr)
		if err != nil {
			return // duplicate names
		}
		tr2, err := DecodeTree(buf)
		if err != nil || len(tr2.Nodes) != len(tr.Nodes) {
			t.Fatalf("re-decoding: %v", err)
		}
	})
}
