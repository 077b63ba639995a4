package main

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"

	"lethe/agent/formats/gen"
)

// The demo's business, as receipts name it.
const (
	demoBusinessName    = "Demoföretaget AB"
	demoBusinessContact = "dataskydd@demo.example"
)

// demoPaths are where the demo keeps its parts below its directory.
type demoPaths struct {
	dir, server, repo, password, state, socket string
}

func newDemoPaths(dir string) demoPaths {
	return demoPaths{
		dir:      dir,
		server:   filepath.Join(dir, "server"),
		repo:     filepath.Join(dir, "repo"),
		password: filepath.Join(dir, "password"),
		state:    filepath.Join(dir, "state"),
		socket:   filepath.Join(dir, "lethe.sock"),
	}
}

// demoConfig is the agent's config for the demo's server and repository
// with the given backup schedule, as YAML with a word on each part.
func demoConfig(p demoPaths, ds *gen.Dataset, backup, why string) string {
	q := strconv.Quote
	var cols []string
	for _, c := range ds.NameColumns {
		cols = append(cols, q(c))
	}
	return fmt.Sprintf(`# The agent's config for the sample business of lethe demo.
state-dir: %s
business:            # who answers erasure requests, as receipts say
  name: %s
  contact: %s
sources:
  - name: server
    paths: [%s]
repositories:
  - name: demo
    location: %s
    password-file: %s
schedules:
  backup: %s   # %s
  forget: after-backup
retention:
  keep-daily: 7      # the seven-day window
identifiers:         # how this business's records name a customer
  custom-kinds:
    - name: %s
      pattern: %s
  name-columns: [%s]
  path-rules: [%s]
api:
  socket: %s
  socket-mode: "0600"
`, q(p.state), q(demoBusinessName), q(demoBusinessContact), q(p.server), q(p.repo), q(p.password),
		q(backup), why, q(ds.CustomKind), q(ds.CustomPattern), strings.Join(cols, ", "), q(ds.PathRule), q(p.socket))
}
