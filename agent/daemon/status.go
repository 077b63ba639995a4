package daemon

import (
	"sort"
	"time"
)

// Status is the agent's state as GET /v1/status reports it.
type Status struct {
	Started time.Time `json:"started"`
	Now     time.Time `json:"now"`
	// Jobs are the running and queued jobs.
	Jobs         []JobStatus        `json:"jobs"`
	Repositories []RepositoryStatus `json:"repositories"`
	Erasures     ErasureCounts      `json:"erasures"`
	// Schedules are the next scheduled runs per job.
	Schedules []ScheduleStatus `json:"schedules"`
}

// JobStatus is one running or queued job.
type JobStatus struct {
	Kind       string `json:"job"`
	Repository string `json:"repository"`
	// State is "running", "queued" or "retry" (waiting for its retry).
	State   string    `json:"state"`
	Since   time.Time `json:"since"`
	Attempt int       `json:"attempt"`
	// NotBefore is when a job waiting for its retry runs next.
	NotBefore time.Time `json:"not_before,omitzero"`
	Erasure   string    `json:"erasure,omitempty"`
	MadeUp    bool      `json:"made_up,omitempty"`
}

// RepositoryStatus is the state of one repository.
type RepositoryStatus struct {
	Name string `json:"name"`
	// LastRuns are the last successful and failed runs per job, from the
	// state directory (they survive restarts).
	LastRuns             map[string]LastRun `json:"last_runs"`
	LastBackup           *runInfo           `json:"last_backup,omitempty"`
	LastSuccessfulBackup *runInfo           `json:"last_successful_backup,omitempty"`
	LastCheck            *runInfo           `json:"last_check,omitempty"`
	LastVerify           *runInfo           `json:"last_verify,omitempty"`
	// LastDeepVerify is the last deep verification of the erasures,
	// part of the verify job.
	LastDeepVerify *deepVerifyInfo `json:"last_deep_verify,omitempty"`
	Snapshots      int             `json:"snapshots"`
	Window         *Window         `json:"window,omitempty"`
}

// LastRun is when a job last ended well and badly.
type LastRun struct {
	Success time.Time `json:"success,omitzero"`
	Failure time.Time `json:"failure,omitzero"`
}

// ScheduleStatus is a job's schedule.
type ScheduleStatus struct {
	Job      string    `json:"job"`
	Schedule string    `json:"schedule"`
	Next     time.Time `json:"next,omitzero"`
}

// runInfo is one run of a job since the agent started.
type runInfo struct {
	Start time.Time `json:"start,omitzero"`
	End   time.Time `json:"end"`
	OK    bool      `json:"ok"`
}

// deepVerifyInfo is what a deep verification of the erasures found:
// counts only.
type deepVerifyInfo struct {
	End time.Time `json:"end"`
	OK  bool      `json:"ok"`
	// Erasures counts the erasures verified; with none nothing is read.
	Erasures  int `json:"erasures"`
	Snapshots int `json:"snapshots"`
	Files     int `json:"files"`
	// Findings counts files still holding an erased subject outside a
	// hold.
	Findings int `json:"findings"`
}

// repoStatus is what the daemon keeps of a repository while it runs.
type repoStatus struct {
	Name                 string
	LastBackup           *runInfo
	LastSuccessfulBackup *runInfo
	LastCheck            *runInfo
	LastVerify           *runInfo
	LastDeepVerify       *deepVerifyInfo
	Snapshots            int
	Window               *Window
}

// Status returns the agent's state.
func (d *Daemon) Status() (Status, error) {
	now := d.clock.Now()
	counts, err := d.erasureCounts(now)
	if err != nil {
		return Status{}, err
	}
	st := Status{Now: now, Erasures: counts, Jobs: []JobStatus{}}
	d.mu.Lock()
	st.Started = d.started
	for _, q := range d.queues {
		name := d.repos[q.repo].Name
		if t := q.running; t != nil {
			st.Jobs = append(st.Jobs, jobStatus(t, name, "running", q.started))
		}
		for _, t := range q.tasks {
			state := "queued"
			if t.notBefore.After(now) {
				state = "retry"
			}
			st.Jobs = append(st.Jobs, jobStatus(t, name, state, t.queued))
		}
	}
	for _, s := range d.status {
		rs := RepositoryStatus{
			Name:                 s.Name,
			LastBackup:           s.LastBackup,
			LastSuccessfulBackup: s.LastSuccessfulBackup,
			LastCheck:            s.LastCheck,
			LastVerify:           s.LastVerify,
			LastDeepVerify:       s.LastDeepVerify,
			Snapshots:            s.Snapshots,
			Window:               s.Window,
			LastRuns:             map[string]LastRun{},
		}
		st.Repositories = append(st.Repositories, rs)
	}
	d.mu.Unlock()
	for i := range st.Repositories {
		for _, k := range []Kind{KindBackup, KindForget, KindCheck, KindVerify} {
			if rec, ok := d.runs.get(k, st.Repositories[i].Name); ok && (!rec.Success.IsZero() || !rec.Failure.IsZero()) {
				st.Repositories[i].LastRuns[string(k)] = LastRun{Success: rec.Success, Failure: rec.Failure}
			}
		}
	}
	s := d.cfg.Schedules
	for _, k := range []struct {
		kind Kind
		spec string
		next time.Time
	}{
		{KindBackup, s.Backup.Spec, s.Backup.Next(now)},
		{KindForget, s.Forget.Spec, s.Forget.Next(now)},
		{KindCheck, s.Check.Spec, s.Check.Next(now)},
		{KindVerify, s.Verify.Spec, s.Verify.Next(now)},
	} {
		st.Schedules = append(st.Schedules, ScheduleStatus{Job: string(k.kind), Schedule: k.spec, Next: k.next})
	}
	sort.SliceStable(st.Jobs, func(i, j int) bool { return st.Jobs[i].Repository < st.Jobs[j].Repository })
	return st, nil
}

func jobStatus(t *task, repo, state string, since time.Time) JobStatus {
	return JobStatus{
		Kind:       string(t.kind),
		Repository: repo,
		State:      state,
		Since:      since,
		Attempt:    t.attempt + 1,
		NotBefore:  t.notBefore,
		Erasure:    t.tombstone,
		MadeUp:     t.madeUp,
	}
}
