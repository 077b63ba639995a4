package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"lethe/agent/formats/gen"
	"lethe/agent/repository/restictest"
)

// demoSubjectLeaks are the forms in which the demo's customer could
// show in its output, in the agent's log or in the agent's files.
func demoSubjectLeaks(t *testing.T) (*gen.Dataset, []string) {
	t.Helper()
	// The demo generates the same business from the same seed.
	ds, err := gen.Generate(filepath.Join(t.TempDir(), "server"), gen.SmallConfig(1))
	if err != nil {
		t.Fatal(err)
	}
	s := ds.Subjects[0]
	leaks := []string{s.Email, s.Phone, s.Personnummer, s.Personnummer[2:], s.Name, s.CustomerNo}
	if s.Orgnr != "" {
		leaks = append(leaks, s.Orgnr)
	}
	return ds, leaks
}

// demoWrapper puts a `lethe` on PATH that runs this test binary as lethe,
// so that the demo prints its commands as `lethe …` and the test can
// paste them into a shell.
func demoWrapper(t *testing.T) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "bin")
	if err := os.Mkdir(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	script := fmt.Sprintf("#!/bin/sh\nLETHE_TEST_RUN_MAIN=1 exec %s \"$@\"\n", shellQuote(exe))
	if err := os.WriteFile(filepath.Join(bin, "lethe"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
}

// TestDemo runs the README's first command with --dir and --config-out
// and checks what it did: a week of snapshots, rewritten without the
// customer's records (restic restores them raw), the fresh machine's
// restore equal to the redacted server, a receipt that verifies with the
// published key, commands that paste into a shell, and a config with
// which `lethe agent` runs and backs up.
func TestDemo(t *testing.T) {
	setupEnv(t)
	demoWrapper(t)
	ds, leaks := demoSubjectLeaks(t)
	base := t.TempDir()
	dir := filepath.Join(base, "demo")
	cfgFile := filepath.Join(base, "agent.yaml")
	tmp := filepath.Join(base, "tmp")
	if err := os.Mkdir(tmp, 0o700); err != nil {
		t.Fatal(err)
	}
	t.Setenv("TMPDIR", tmp)

	out, errOut, code := lethe(t, "demo", "--dir", dir, "--config-out", cfgFile)
	if code != exitOK {
		t.Fatalf("demo: exit %d\n%s\n%s", code, out, errOut)
	}
	if entries, _ := os.ReadDir(tmp); len(entries) > 0 {
		t.Errorf("the demo left %d entries in the temporary directory", len(entries))
	}
	for _, want := range []string{"on 7 of 7 days", "erasure request recorded", ": complete (demo: complete)",
		"equals the redacted copy", "Kvitto på radering", "signature valid", "restic: no errors were found"} {
		if !strings.Contains(out, want) {
			t.Errorf("demo output lacks %q:\n%s", want, out)
		}
	}
	// Identifiers are printed only in the request the business sends.
	for _, l := range strings.Split(out+errOut, "\n") {
		if strings.Contains(l, "/v1/erasures -H") {
			continue
		}
		for _, leak := range leaks {
			if strings.Contains(l, leak) {
				t.Errorf("the demo prints an identifier of the customer outside the request: %q", l)
			}
		}
	}

	// A snapshot for each of the seven days of the window, each the
	// rewrite of the night's original.
	repo := filepath.Join(dir, "repo")
	demoRepo := []string{"-r", repo, "--password-file", filepath.Join(dir, "password")}
	var snaps snapshotList
	if err := json.Unmarshal([]byte(mustLethe(t, args(demoRepo, "snapshots", "--json")...)), &snaps); err != nil {
		t.Fatal(err)
	}
	sort.Slice(snaps, func(i, j int) bool { return snaps[i].Time.Before(snaps[j].Time) })
	if len(snaps) != 7 {
		t.Fatalf("%d snapshots, want 7", len(snaps))
	}
	for i, s := range snaps {
		if i > 0 && s.Time.Local().Format(time.DateOnly) != snaps[i-1].Time.Local().AddDate(0, 0, 1).Format(time.DateOnly) {
			t.Errorf("snapshot %d at %v, the one before at %v: not a night apart", i, s.Time, snaps[i-1].Time)
		}
		if s.Original == "" {
			t.Errorf("snapshot %s is no rewrite", s.ID)
		}
	}

	// restic restores the snapshots as they are stored: none holds a
	// record of the customer, and the latest is the redacted server.
	resticEnv := []string{"RESTIC_PASSWORD=" + demoPassword}
	server := filepath.Join(dir, "server")
	var trees []string
	for i, s := range snaps {
		target := filepath.Join(base, fmt.Sprintf("restic-%d", i))
		if _, errOut, err := restictest.RunErr(t, repo, resticEnv, "restore", s.ID, "--target", target); err != nil {
			t.Fatalf("restic restore %s: %v\n%s", s.ID, err, errOut)
		}
		trees = append(trees, filepath.Join(target, server))
	}
	if err := compareTrees(filepath.Join(dir, "redacted"), trees[len(trees)-1]); err != nil {
		t.Errorf("restic's restore of the latest snapshot is not the redacted server: %v", err)
	}
	if err := compareTrees(filepath.Join(dir, "redacted"), filepath.Join(dir, "fresh-machine", "restore", server)); err != nil {
		t.Errorf("the fresh machine's restore is not the redacted server: %v", err)
	}
	scan := args("scan", subjectArgs(ds, 0))
	if _, _, code := lethe(t, append(scan, server)...); code != exitIncomplete {
		t.Fatalf("scan of the live server: exit %d, want %d (the customer is there)", code, exitIncomplete)
	}
	if hits, errOut, code := lethe(t, append(scan, trees...)...); code != exitOK {
		t.Errorf("the rewritten snapshots hold records of the customer (exit %d):\n%s%s", code, hits, errOut)
	}

	// The receipt verifies with the key the business publishes.
	receipts, _ := filepath.Glob(filepath.Join(dir, "receipt-*.json"))
	if len(receipts) != 1 {
		t.Fatalf("receipt files: %v", receipts)
	}
	mustLethe(t, "receipts", "verify", receipts[0], "--pubkey", filepath.Join(dir, "receipt-key.pem"))

	// The printed commands are shell syntax, and those that only read
	// run as printed.
	var cmds []string
	for _, l := range strings.Split(out, "\n") {
		if c, ok := strings.CutPrefix(l, "$ "); ok {
			cmds = append(cmds, c)
		}
	}
	ran := 0
	for _, c := range cmds {
		if b, err := exec.Command("sh", "-n", "-c", c).CombinedOutput(); err != nil {
			t.Errorf("printed command is not shell syntax: %s\n%s", c, b)
		}
		if strings.HasSuffix(c, " snapshots") || strings.Contains(c, "receipts verify") {
			if b, err := exec.Command("sh", "-c", c).CombinedOutput(); err != nil {
				t.Errorf("printed command fails: %s: %v\n%s", c, err, b)
			}
			ran++
		}
	}
	if ran < 2 {
		t.Errorf("ran %d printed commands, want the snapshots and receipts verify ones:\n%s", ran, strings.Join(cmds, "\n"))
	}

	// A second run in the same directory refuses instead of mixing data.
	if _, errOut, code := lethe(t, "demo", "--dir", dir); code == 0 || !strings.Contains(errOut, "not empty") {
		t.Errorf("demo reused a used directory: exit %d, %s", code, errOut)
	}

	mustLethe(t, "config", "check", "--config", cfgFile)
	log := demoAgent(t, cfgFile, filepath.Join(dir, "lethe.sock"))
	for _, leak := range leaks {
		if strings.Contains(log, leak) {
			t.Errorf("the agent's log names the customer (%q):\n%s", leak, log)
		}
	}
}

// demoAgent starts `lethe agent --config file` as a process of its own,
// waits for its API, has it take a backup, stops it with SIGTERM and
// returns its log. The agent must exit 0.
func demoAgent(t *testing.T, file, sock string) string {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "agent", "--config", file, "--log-format", "json")
	cmd.Env = append(os.Environ(), "LETHE_TEST_RUN_MAIN=1")
	var log syncBuf
	cmd.Stdout, cmd.Stderr = io.Discard, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	waited := false
	defer func() {
		if !waited {
			cmd.Process.Kill()
			<-exited
		}
	}()
	client := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", sock)
	}}}
	defer client.CloseIdleConnections()
	// wait polls until ok; the give-up only turns a hang into a failure.
	wait := func(what string, ok func() bool) {
		t.Helper()
		for giveUp := time.Now().Add(3 * time.Minute); !ok(); {
			if time.Now().After(giveUp) {
				t.Fatalf("gave up waiting for %s; agent log:\n%s", what, log.String())
			}
			select {
			case err := <-exited:
				waited = true
				t.Fatalf("the agent exited (%v) while waiting for %s:\n%s", err, what, log.String())
			case <-time.After(20 * time.Millisecond):
			}
		}
	}
	status := func() (map[string]any, bool) {
		resp, err := client.Get("http://lethe/v1/status")
		if err != nil {
			return nil, false
		}
		defer resp.Body.Close()
		var st map[string]any
		return st, resp.StatusCode == http.StatusOK && json.NewDecoder(resp.Body).Decode(&st) == nil
	}
	wait("the API", func() bool { _, ok := status(); return ok })
	resp, err := client.Post("http://lethe/v1/backups", "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("POST /v1/backups: %s", resp.Status)
	}
	wait("a backup", func() bool {
		st, ok := status()
		repos, _ := st["repositories"].([]any)
		return ok && len(repos) == 1 && repos[0].(map[string]any)["last_successful_backup"] != nil
	})
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	err = <-exited
	waited = true
	if err != nil {
		t.Errorf("the agent did not exit 0 on SIGTERM: %v\n%s", err, log.String())
	}
	return log.String()
}

// TestDemoTempDir runs the demo as the README does, in a temporary
// directory, and checks that nothing is left of it, also when it fails.
// Its business is smaller than the command's: what is tested here is the
// directory's life, which TestDemo's story does not depend on.
func TestDemoTempDir(t *testing.T) {
	setupEnv(t)
	tmp := filepath.Join(t.TempDir(), "tmp")
	if err := os.Mkdir(tmp, 0o700); err != nil {
		t.Fatal(err)
	}
	t.Setenv("TMPDIR", tmp)
	empty := func(when string) {
		t.Helper()
		entries, err := os.ReadDir(tmp)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			t.Errorf("%s, the temporary directory holds %s", when, e.Name())
		}
	}
	small := &gen.Config{Seed: 1, Subjects: 1, Customers: 12, Messages: 8, Contacts: 6, Events: 4, SQLRows: 12, LogLines: 40}
	var stdout, stderr bytes.Buffer
	err := runDemo(context.Background(), &globalOptions{stdout: &stdout, stderr: &stderr}, demoOptions{data: small})
	out, errOut := stdout.String(), stderr.String()
	if err != nil {
		t.Fatalf("demo: %v\n%s\n%s", err, out, errOut)
	}
	if !strings.Contains(out, "removed "+tmp) || !strings.Contains(out, "signature valid") {
		t.Errorf("demo output:\n%s", out)
	}
	empty("after the demo")

	// A demo that fails removes its directory too: here it is
	// interrupted as the week begins, its agent running.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w := &cancelAt{text: "== a week of nightly backups", cancel: cancel}
	if err := runDemo(ctx, &globalOptions{stdout: w, stderr: io.Discard}, demoOptions{data: small}); !errors.Is(err, context.Canceled) {
		t.Errorf("an interrupted demo: %v, want context.Canceled\n%s", err, w.String())
	}
	empty("after an interrupted demo")

	if _, errOut, code := lethe(t, "demo", "--config-out", filepath.Join(tmp, "x.yaml")); code == 0 || !strings.Contains(errOut, "needs --dir") {
		t.Errorf("--config-out without --dir: exit %d, %s", code, errOut)
	}
	empty("after a refused demo")
	// A config file that exists is not overwritten.
	old := filepath.Join(t.TempDir(), "lethe.yaml")
	if err := os.WriteFile(old, []byte("mine\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, errOut, code := lethe(t, "demo", "--dir", filepath.Join(t.TempDir(), "d"), "--config-out", old); code == 0 || !strings.Contains(errOut, "exists") {
		t.Errorf("--config-out of an existing file: exit %d, %s", code, errOut)
	}
	if b, _ := os.ReadFile(old); string(b) != "mine\n" {
		t.Errorf("--config-out overwrote an existing file: %q", b)
	}
}

// syncBuf is a buffer that a process's output goroutine and the test
// may use at once.
type syncBuf struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuf) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuf) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// cancelAt collects what is written and calls cancel once it holds text.
type cancelAt struct {
	syncBuf
	text   string
	cancel func()
}

func (c *cancelAt) Write(p []byte) (int, error) {
	n, err := c.syncBuf.Write(p)
	if strings.Contains(c.String(), c.text) {
		c.cancel()
	}
	return n, err
}
