package repository

import (
	"encoding/json"
	"fmt"
	"os"
	"reflect"
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

// TestDecodeTreeAsNodes: DecodeTree reads a tree as decoding each node by
// Node.UnmarshalJSON does, names quoted or not.
func TestDecodeTreeAsNodes(t *testing.T) {
	names := []string{"plain", "new\nline", `back\slash`, `quote"d`, "tab\tx", "ünï", "bad\xffutf8", "cr\rx"}
	var nodes []*Node
	for i, n := range names {
		id := ID{byte(i)}
		nodes = append(nodes, &Node{Name: n, Type: NodeDir, Mode: os.ModeDir | 0o755, ModTime: time.Unix(1e9, 0).UTC(), UID: 1000, User: "anna", Content: IDs{}, Subtree: &id})
	}
	buf, err := EncodeTree(&Tree{Nodes: nodes})
	if err != nil {
		t.Fatal(err)
	}
	var want struct {
		Nodes []*Node `json:"nodes"`
	}
	if err := json.Unmarshal(buf, &want); err != nil {
		t.Fatal(err)
	}
	got, err := DecodeTree(buf)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.Nodes, want.Nodes) {
		t.Errorf("DecodeTree differs from Node.UnmarshalJSON:\n%+v\n%+v", got.Nodes, want.Nodes)
	}
	if _, err := DecodeTree([]byte(`{"nodes":[null]}`)); err == nil {
		t.Error("a null entry accepted")
	}
}

func BenchmarkDecodeTree(b *testing.B) {
	var nodes []*Node
	for i := range 200 {
		nodes = append(nodes, &Node{Name: fmt.Sprintf("faktura-%04d.pdf", i), Type: NodeFile, Mode: 0o644,
			ModTime: time.Unix(1e9+int64(i), 0).UTC(), AccessTime: time.Unix(1e9, 0).UTC(), ChangeTime: time.Unix(1e9, 0).UTC(),
			UID: 1000, GID: 1000, User: "anna", Group: "staff", Inode: uint64(1e6 + i), DeviceID: 2049, Size: 123456, Links: 1,
			Content: IDs{{1, byte(i)}, {2, byte(i)}}})
	}
	buf, err := EncodeTree(&Tree{Nodes: nodes})
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		if _, err := DecodeTree(buf); err != nil {
			b.Fatal(err)
		}
	}
}
