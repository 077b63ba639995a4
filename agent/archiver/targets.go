package archiver

import (
	"fmt"
	"path/filepath"
	"sort"
	"strings"
)

// targetTree is the skeleton of a snapshot built from absolute target
// paths, like restic's archiver.Tree: backing up /a/b/c gives the root
// entries "a" -> "b" -> "c". Inner nodes are directories on the way
// (stored with their real metadata but only the listed children); leaves
// are backed up completely.
type targetTree struct {
	name     string
	path     string // location on disk
	leaf     bool
	children map[string]*targetTree
}

// cleanTargets makes targets absolute and clean, drops duplicates and
// sorts them, as restic stores them in Snapshot.Paths. show masks a target
// named in an error.
func cleanTargets(targets []string, show func(string) string) ([]string, error) {
	if len(targets) == 0 {
		return nil, fmt.Errorf("no backup targets given")
	}
	seen := map[string]bool{}
	var out []string
	for _, t := range targets {
		abs, err := filepath.Abs(t)
		if err != nil {
			return nil, fmt.Errorf("resolving target %s: %w", show(t), err)
		}
		if !seen[abs] {
			seen[abs] = true
			out = append(out, abs)
		}
	}
	sort.Strings(out)
	return out, nil
}

// buildTargetTree merges absolute targets into one tree. A target below
// another target is already covered by it.
func buildTargetTree(targets []string) *targetTree {
	root := &targetTree{path: "/", children: map[string]*targetTree{}}
	for _, t := range targets {
		cur := root
		if cur.leaf {
			break
		}
		for _, c := range splitPath(t) {
			next := cur.children[c]
			if next == nil {
				next = &targetTree{name: c, path: filepath.Join(cur.path, c), children: map[string]*targetTree{}}
				cur.children[c] = next
			}
			cur = next
			if cur.leaf {
				break
			}
		}
		if !cur.leaf {
			cur.leaf = true
			cur.children = nil
		}
	}
	return root
}

// names returns the children's names in tree order.
func (t *targetTree) names() []string {
	names := make([]string, 0, len(t.children))
	for n := range t.children {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// splitPath returns the components of a clean absolute path.
func splitPath(p string) []string {
	return strings.FieldsFunc(p, func(r rune) bool { return r == '/' })
}

// MatchPatterns reports whether path matches one of the patterns, in the
// syntax of excludes (see excluded), for others that select paths the way
// excludes do (erasure holds).
func MatchPatterns(patterns []string, path string) bool { return excluded(patterns, path) }

// excluded reports whether path matches one of the patterns. Patterns use
// filepath.Match syntax per path component plus "**" for any number of
// components; a pattern starting with "/" is anchored at the root, others
// match at any depth (restic's --exclude semantics for the common cases).
func excluded(patterns []string, path string) bool {
	if len(patterns) == 0 {
		return false
	}
	comps := splitPath(path)
	for _, p := range patterns {
		pc := splitPath(p)
		if len(pc) == 0 {
			continue
		}
		if strings.HasPrefix(p, "/") {
			if matchComponents(pc, comps) {
				return true
			}
			continue
		}
		for i := range comps {
			if matchComponents(pc, comps[i:]) {
				return true
			}
		}
	}
	return false
}

// matchComponents matches a whole component list against a pattern list.
func matchComponents(pat, comps []string) bool {
	if len(pat) == 0 {
		return len(comps) == 0
	}
	if pat[0] == "**" {
		for i := 0; i <= len(comps); i++ {
			if matchComponents(pat[1:], comps[i:]) {
				return true
			}
		}
		return false
	}
	if len(comps) == 0 {
		return false
	}
	ok, err := filepath.Match(pat[0], comps[0])
	if err != nil || !ok {
		return false
	}
	return matchComponents(pat[1:], comps[1:])
}
