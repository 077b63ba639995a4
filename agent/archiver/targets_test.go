package archiver

import "testing"

func TestBuildTargetTree(t *testing.T) {
	root := buildTargetTree([]string{"/a/b", "/a/b/c", "/a/d", "/e"})
	a := root.children["a"]
	if a == nil || a.leaf || len(root.children) != 2 || !root.children["e"].leaf {
		t.Fatalf("root: %+v", root)
	}
	if b := a.children["b"]; b == nil || !b.leaf || b.children != nil || b.path != "/a/b" {
		t.Errorf("/a/b must be a leaf covering /a/b/c: %+v", b)
	}
	if d := a.children["d"]; d == nil || !d.leaf {
		t.Errorf("/a/d: %+v", d)
	}
	if r := buildTargetTree([]string{"/", "/x"}); !r.leaf {
		t.Errorf("target / must cover everything: %+v", r)
	}
}

func TestExcluded(t *testing.T) {
	for _, c := range []struct {
		pattern, path string
		want          bool
	}{
		{"*.log", "/var/log/x.log", true},
		{"*.log", "/var/log/x.txt", false},
		{"cache", "/home/u/cache", true},
		{"/home/*/cache", "/home/u/cache", true},
		{"/home/*/cache", "/srv/home/u/cache", false},
		{"/srv/**/tmp", "/srv/a/b/tmp", true},
		{"/srv/**/tmp", "/srv/tmp", true},
		{"a/b", "/x/a/b", true},
		{"a/b", "/x/a/b/c", false},
		{"[", "/x", false},
	} {
		if got := excluded([]string{c.pattern}, c.path); got != c.want {
			t.Errorf("excluded(%q, %q) = %v, want %v", c.pattern, c.path, got, c.want)
		}
	}
}
