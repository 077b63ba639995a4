package jobs

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"lethe/agent/repository"
)

// snapshotList is a SnapshotFinder over a fixed list.
type snapshotList struct {
	snaps []*repository.Snapshot
	found []string // names given to FindSnapshot
}

func (l *snapshotList) Snapshots(context.Context) ([]*repository.Snapshot, error) {
	return l.snaps, nil
}

func (l *snapshotList) FindSnapshot(_ context.Context, s string) (*repository.Snapshot, error) {
	l.found = append(l.found, s)
	for _, sn := range l.snaps {
		if strings.HasPrefix(sn.ID.String(), s) {
			return sn, nil
		}
	}
	return nil, repository.ErrSnapshotNotFound
}

func TestFindParent(t *testing.T) {
	day := func(d int) time.Time { return time.Date(2026, 11, d, 2, 0, 0, 0, time.UTC) }
	var n byte
	snap := func(host string, t time.Time, paths ...string) *repository.Snapshot {
		n++
		return &repository.Snapshot{ID: repository.ID{n}, Hostname: host, Time: t, Paths: paths}
	}
	// Snapshots come sorted by time, as Repository.Snapshots gives them.
	var (
		old      = snap("server1", day(1), "/srv/data", "/etc")
		other    = snap("server2", day(2), "/etc", "/srv/data")
		subset   = snap("server1", day(3), "/srv/data")
		superset = snap("server1", day(4), "/etc", "/srv/data", "/home")
		latest   = snap("server1", day(5), "/etc", "/srv/data")
		future   = snap("server1", day(9), "/etc", "/srv/data")
	)
	repo := &snapshotList{snaps: []*repository.Snapshot{old, other, subset, superset, latest, future}}
	ctx := context.Background()

	for _, c := range []struct {
		name    string
		named   string
		host    string
		targets []string
		ts      time.Time
		want    *repository.Snapshot
	}{
		{"same host and paths, not newer", "", "server1", []string{"/srv/data", "/etc"}, day(6), latest},
		{"paths in any order, doubled, unclean", "", "server1", []string{"/etc/", "/srv/x/../data", "/etc"}, day(6), latest},
		{"taken at the same time counts", "", "server1", []string{"/etc", "/srv/data"}, day(5), latest},
		// superset (day 4) has more paths, so day 1's is the parent.
		{"older time limit", "", "server1", []string{"/etc", "/srv/data"}, day(4), old},
		{"future snapshots count once their time is reached", "", "server1", []string{"/etc", "/srv/data"}, day(10), future},
		{"other host", "", "server2", []string{"/etc", "/srv/data"}, day(6), other},
		{"no snapshot of the host", "", "server3", []string{"/etc", "/srv/data"}, day(6), nil},
		{"one path: the snapshot of that path alone", "", "server1", []string{"/srv/data"}, day(6), subset},
		{"no snapshot of the paths", "", "server1", []string{"/home"}, day(6), nil},
		{"latest is the rule", "latest", "server1", []string{"/etc", "/srv/data"}, day(6), latest},
		{"a named snapshot wins over the rule", other.ID.String()[:8], "server1", []string{"/home"}, day(1), other},
	} {
		t.Run(c.name, func(t *testing.T) {
			repo.found = nil
			got, err := FindParent(ctx, repo, c.named, c.host, c.targets, c.ts)
			if err != nil {
				t.Fatal(err)
			}
			if got != c.want {
				t.Errorf("parent %v, want %v", got, c.want)
			}
			if c.named == "" || c.named == "latest" {
				if len(repo.found) != 0 {
					t.Errorf("looked up %q though no snapshot was named", repo.found)
				}
			} else if len(repo.found) != 1 || repo.found[0] != c.named {
				t.Errorf("looked up %q, want %q", repo.found, c.named)
			}
		})
	}

	// A named snapshot that is not there, and latest when no snapshot
	// qualifies, are errors: the caller asked for a parent.
	if _, err := FindParent(ctx, repo, "ffff", "server1", []string{"/etc"}, day(6)); !errors.Is(err, repository.ErrSnapshotNotFound) {
		t.Errorf("unknown named parent: %v", err)
	}
	if _, err := FindParent(ctx, repo, "latest", "server3", []string{"/etc"}, day(6)); !errors.Is(err, repository.ErrSnapshotNotFound) || !strings.Contains(err.Error(), "server3") {
		t.Errorf("latest without a match: %v", err)
	}
}
