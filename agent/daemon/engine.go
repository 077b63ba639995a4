package daemon

import (
	"context"
	"time"

	"lethe/agent/config"
	"lethe/agent/erasure"
	"lethe/agent/jobs"
	"lethe/agent/receipts"
)

// Engine is the Eraser that carries erasures out with the erasure engine:
// it locks the repository exclusively (waiting for other jobs' locks as
// jobs.OpenLocked does), rewrites, prunes, verifies and issues the
// receipt when the config names the business.
type Engine struct {
	StateDir string
	Rules    erasure.Rules
	Business receipts.Business
	// Repos are the names of every configured repository: a receipt is
	// final only once the erasure is complete in all of them.
	Repos []string
	// Now is the time holds end by; nil: the machine's. A daemon on a
	// simulated clock (tests) sets it to the clock's.
	Now func() time.Time
	// Window is how long the retention policy keeps a snapshot: when a
	// held copy leaves the backups, and an expire-mode erasure's last.
	Window time.Duration

	// carry is shared by the jobs of all repositories, so that the last
	// to finish issues the final receipt.
	carry *jobs.CarryOut
}

// foreverWindow stands for a retention that keeps snapshots without end.
const foreverWindow = 100 * 366 * 24 * time.Hour

// NewEngine returns the Engine for a config.
func NewEngine(cfg *config.Config) *Engine {
	x := &Engine{StateDir: cfg.StateDir, Rules: RulesOf(cfg), Business: receipts.Business{Name: cfg.Business.Name, Contact: cfg.Business.Contact}}
	if d, ok := cfg.Retention.Policy.Horizon(); !ok {
		// Kept without end: a held copy goes only when its hold ends.
		x.Window = foreverWindow
	} else if d > 0 {
		x.Window = d
	}
	for _, r := range Repositories(cfg) {
		x.Repos = append(x.Repos, r.Name)
	}
	x.carry = &jobs.CarryOut{Repos: x.Repos, Business: x.Business}
	return x
}

// Erase carries out (or resumes) the erasure of tombstoneID in repo.
func (x *Engine) Erase(ctx context.Context, repo Repository, tombstoneID string) (*erasure.Result, error) {
	r, jobCtx, release, err := jobs.OpenLocked(ctx, repo.Repo, jobs.Exclusive, true)
	if err != nil {
		return nil, err
	}
	defer release()
	e, err := jobs.NewEraser(jobCtx, r, x.StateDir)
	if err != nil {
		return nil, err
	}
	c := x.carry
	if c == nil {
		c = &jobs.CarryOut{Repos: x.Repos, Business: x.Business}
	}
	res, _, err := c.Erase(jobCtx, e, repo.Name, tombstoneID, jobs.EraseOptions{Rules: x.Rules, Now: x.Now, Window: x.Window})
	return res, err
}

// DueAgain returns the erasures complete in repo that are due to run
// again at now (a hold ended, or held snapshots are gone). It reads the
// journals and the snapshot list without a lock: a rerun it misses is
// found at the next check, and Erase decides again under the lock.
func (x *Engine) DueAgain(ctx context.Context, repo Repository, now time.Time) ([]string, error) {
	r, ctx, release, err := jobs.OpenLocked(ctx, repo.Repo, jobs.NoLock, false)
	if err != nil {
		return nil, err
	}
	defer release()
	ids, err := erasure.ListJournals(ctx, r)
	if err != nil {
		return nil, err
	}
	var done []*erasure.Journal
	for _, id := range ids {
		j, err := erasure.LoadJournal(ctx, r, id)
		if err != nil {
			return nil, err
		}
		if j.Complete() {
			done = append(done, j)
		}
	}
	return erasure.RerunsDue(ctx, r, done, now)
}

// RulesOf returns the erasure rules a config gives: how identifiers are
// recognised and the holds.
func RulesOf(cfg *config.Config) erasure.Rules {
	id := cfg.Identifiers
	r := erasure.Rules{Region: id.PhoneRegion, NameColumns: id.NameColumns}
	for _, k := range id.CustomKinds {
		r.Kinds = append(r.Kinds, k.Name+"="+k.Pattern.String())
	}
	for _, p := range id.PathRules {
		r.PathRules = append(r.PathRules, p.Template)
	}
	for _, h := range cfg.Holds {
		r.Holds = append(r.Holds, erasure.Hold{Name: h.Name, Paths: h.Paths, Formats: h.Formats, Basis: h.Basis,
			Years: h.Duration.Years, Months: h.Duration.Months, Days: h.Duration.Days})
	}
	return r
}
