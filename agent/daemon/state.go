package daemon

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// runStateName is the file in the state directory that keeps when each
// job last ran on each repository. It holds job and repository names
// and times only.
const runStateName = "agent-runs.json"

// runRecord is what the agent remembers of one job on one repository.
type runRecord struct {
	// Slot is the latest scheduled time the job has run for (or, before
	// its first run, when the agent first knew of it): a slot after it
	// that has passed was missed.
	Slot time.Time `json:"slot"`
	// Success and Failure are when the job last ended in each way.
	Success time.Time `json:"success,omitzero"`
	Failure time.Time `json:"failure,omitzero"`
}

// runState is the run records, keyed by job kind and repository name.
type runState struct {
	path string

	mu   sync.Mutex
	Runs map[string]runRecord `json:"runs"`
}

func runKey(kind Kind, repo string) string { return string(kind) + "/" + repo }

// loadRunState reads the run records in dir; none yet is an empty state.
func loadRunState(dir string) (*runState, error) {
	s := &runState{path: filepath.Join(dir, runStateName), Runs: map[string]runRecord{}}
	data, err := os.ReadFile(s.path)
	if errors.Is(err, fs.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the agent's run times: %w", err)
	}
	if err := json.Unmarshal(data, s); err != nil {
		return nil, fmt.Errorf("decoding the agent's run times in %s: %w", s.path, err)
	}
	if s.Runs == nil {
		s.Runs = map[string]runRecord{}
	}
	return s, nil
}

func (s *runState) get(kind Kind, repo string) (runRecord, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.Runs[runKey(kind, repo)]
	return r, ok
}

// update changes one record and writes the file.
func (s *runState) update(kind Kind, repo string, fn func(*runRecord)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := runKey(kind, repo)
	r := s.Runs[k]
	fn(&r)
	s.Runs[k] = r
	return s.write()
}

// write replaces the file atomically, so a crash leaves the old or the
// new records, never a torn file.
func (s *runState) write() error {
	data, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding the agent's run times: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(s.path), "."+runStateName+".*")
	if err != nil {
		return fmt.Errorf("writing the agent's run times: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(append(data, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("writing the agent's run times: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("writing the agent's run times: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("writing the agent's run times: %w", err)
	}
	if err := os.Rename(tmp.Name(), s.path); err != nil {
		return fmt.Errorf("writing the agent's run times: %w", err)
	}
	return nil
}
