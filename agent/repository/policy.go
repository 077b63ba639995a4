package repository

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"lethe/backends"
)

// ExpirePolicy says which snapshots to keep, with restic's meaning of the
// --keep-* options. A count of -1 means unlimited. A zero policy keeps
// everything.
type ExpirePolicy struct {
	Last, Hourly, Daily, Weekly, Monthly, Yearly int
	// Within keeps snapshots newer than the group's latest minus Within.
	Within time.Duration
	// Tags keeps snapshots that carry all tags of any of the lists.
	Tags [][]string
}

// Empty reports whether the policy keeps everything for lack of rules.
func (p ExpirePolicy) Empty() bool {
	return p.Last == 0 && p.Hourly == 0 && p.Daily == 0 && p.Weekly == 0 && p.Monthly == 0 && p.Yearly == 0 && p.Within == 0 && len(p.Tags) == 0
}

// Horizon is how long after it was taken the policy may keep a snapshot
// when snapshots are taken at least daily: the longest of its rules, a
// kept month counted as 31 days and a kept year as 366, a --keep-last
// snapshot as a day. ok is false when the policy keeps some snapshots
// without end (a count of -1, or no rules at all). Tag rules are not
// counted: they keep a snapshot for as long as it carries the tags.
func (p ExpirePolicy) Horizon() (d time.Duration, ok bool) {
	if p.Empty() {
		return 0, false
	}
	const day = 24 * time.Hour
	d = p.Within
	for _, r := range []struct {
		n    int
		unit time.Duration
	}{{p.Last, day}, {p.Hourly, time.Hour}, {p.Daily, day}, {p.Weekly, 7 * day}, {p.Monthly, 31 * day}, {p.Yearly, 366 * day}} {
		if r.n < 0 {
			return 0, false
		}
		d = max(d, time.Duration(r.n)*r.unit)
	}
	return d, true
}

// KeepReason says why a snapshot is kept.
type KeepReason struct {
	Snapshot *Snapshot
	Matches  []string
}

type bucket struct {
	count  int
	reason string
	value  func(time.Time) int
	last   int
}

func ymd(t time.Time) int { return t.Year()*10000 + int(t.Month())*100 + t.Day() }

// ApplyPolicy splits snapshots (of one group) into keep and remove, newest
// first, as restic's forget does.
func ApplyPolicy(snaps []*Snapshot, p ExpirePolicy) (keep, remove []*Snapshot, reasons []KeepReason) {
	list := append([]*Snapshot(nil), snaps...)
	sort.SliceStable(list, func(i, j int) bool { return list[i].Time.After(list[j].Time) })
	if p.Empty() {
		for _, sn := range list {
			reasons = append(reasons, KeepReason{Snapshot: sn, Matches: []string{"policy is empty"}})
		}
		return list, nil, reasons
	}
	n := 0
	buckets := []*bucket{
		{count: p.Last, reason: "last snapshot", value: func(time.Time) int { n++; return n }},
		{count: p.Hourly, reason: "hourly snapshot", value: func(t time.Time) int { return ymd(t)*100 + t.Hour() }},
		{count: p.Daily, reason: "daily snapshot", value: ymd},
		{count: p.Weekly, reason: "weekly snapshot", value: func(t time.Time) int { y, w := t.ISOWeek(); return y*100 + w }},
		{count: p.Monthly, reason: "monthly snapshot", value: func(t time.Time) int { return t.Year()*100 + int(t.Month()) }},
		{count: p.Yearly, reason: "yearly snapshot", value: func(t time.Time) int { return t.Year() }},
	}
	for _, b := range buckets {
		b.last = -1
	}
	var latest time.Time
	if len(list) > 0 {
		latest = list[0].Time
	}
	for _, sn := range list {
		var matches []string
		for _, tags := range p.Tags {
			all := len(tags) > 0
			for _, tag := range tags {
				if !sn.HasTag(tag) {
					all = false
				}
			}
			if all {
				matches = append(matches, "tags "+strings.Join(tags, ","))
			}
		}
		if p.Within > 0 && !sn.Time.Before(latest.Add(-p.Within)) {
			matches = append(matches, "within "+p.Within.String())
		}
		for _, b := range buckets {
			if b.count == 0 {
				continue
			}
			v := b.value(sn.Time)
			if v != b.last {
				matches = append(matches, b.reason)
				b.last = v
				if b.count > 0 {
					b.count--
				}
			}
		}
		if len(matches) > 0 {
			keep = append(keep, sn)
			reasons = append(reasons, KeepReason{Snapshot: sn, Matches: matches})
		} else {
			remove = append(remove, sn)
		}
	}
	return keep, remove, reasons
}

// GroupBy chooses what makes snapshots one group for forget; restic's
// default is host and paths.
type GroupBy struct{ Host, Paths, Tags bool }

// DefaultGroupBy is host+paths.
var DefaultGroupBy = GroupBy{Host: true, Paths: true}

// GroupKey identifies a group.
type GroupKey struct {
	Hostname string   `json:"hostname,omitempty"`
	Paths    []string `json:"paths,omitempty"`
	Tags     []string `json:"tags,omitempty"`
}

// Group is a set of snapshots forget treats together.
type Group struct {
	Key       GroupKey
	Snapshots []*Snapshot
}

// GroupSnapshots groups snapshots; groups come in a stable order.
func GroupSnapshots(snaps []*Snapshot, by GroupBy) []Group {
	m := map[string]*Group{}
	var order []string
	for _, sn := range snaps {
		var k GroupKey
		if by.Host {
			k.Hostname = sn.Hostname
		}
		if by.Paths {
			k.Paths = append([]string(nil), sn.Paths...)
			sort.Strings(k.Paths)
		}
		if by.Tags {
			k.Tags = append([]string(nil), sn.Tags...)
			sort.Strings(k.Tags)
		}
		kb, _ := json.Marshal(k)
		g, ok := m[string(kb)]
		if !ok {
			g = &Group{Key: k}
			m[string(kb)] = g
			order = append(order, string(kb))
		}
		g.Snapshots = append(g.Snapshots, sn)
	}
	sort.Strings(order)
	groups := make([]Group, 0, len(order))
	for _, k := range order {
		groups = append(groups, *m[k])
	}
	return groups
}

// ForgetGroup is the outcome of forget for one group.
type ForgetGroup struct {
	Key     GroupKey
	Keep    []*Snapshot
	Remove  []*Snapshot
	Reasons []KeepReason
}

// Forget applies the policy per group and, unless dryRun, removes the
// snapshot files of the snapshots not kept. It takes an exclusive lock
// unless the handle already holds one, and stops if it loses that lock.
func (r *Repository) Forget(ctx context.Context, p ExpirePolicy, by GroupBy, dryRun bool) (_ []ForgetGroup, err error) {
	if !dryRun {
		var unlock func(error) error
		if ctx, unlock, err = r.lockExclusive(ctx); err != nil {
			return nil, err
		}
		defer func() { err = unlock(err) }()
	}
	snaps, err := r.Snapshots(ctx)
	if err != nil {
		return nil, err
	}
	var out []ForgetGroup
	for _, g := range GroupSnapshots(snaps, by) {
		keep, remove, reasons := ApplyPolicy(g.Snapshots, p)
		out = append(out, ForgetGroup{Key: g.Key, Keep: keep, Remove: remove, Reasons: reasons})
		if dryRun {
			continue
		}
		for _, sn := range remove {
			if err := r.RemoveUnpacked(ctx, backends.SnapshotFile, sn.ID); err != nil {
				return out, fmt.Errorf("forgetting snapshot %s: %w", sn.ID.Str(), err)
			}
		}
	}
	return out, nil
}

// ParseGroupBy reads a grouping as restic's --group-by gives it: host,
// paths and/or tags, separated by commas; empty groups nothing.
func ParseGroupBy(s string) (GroupBy, error) {
	var by GroupBy
	for _, f := range strings.Split(s, ",") {
		switch strings.TrimSpace(f) {
		case "host":
			by.Host = true
		case "paths":
			by.Paths = true
		case "tags":
			by.Tags = true
		case "":
		default:
			return by, fmt.Errorf("%q: want host, paths and/or tags, separated by commas", f)
		}
	}
	return by, nil
}

// ParseMaxUnused reads restic's --max-unused ("5%" or "unlimited") as
// PruneOptions.MaxUnused, whose 0 means the default: "0%" becomes a
// negative share, PruneOptions' "none".
func ParseMaxUnused(s string) (float64, error) {
	if s == "unlimited" {
		return 1, nil
	}
	p, ok := strings.CutSuffix(s, "%")
	v, err := strconv.ParseFloat(p, 64)
	if !ok || err != nil || v < 0 || v > 100 {
		return 0, fmt.Errorf("%q: want a percentage from 0%% to 100%%, or unlimited", s)
	}
	if v == 0 {
		return -1, nil
	}
	return v / 100, nil
}
