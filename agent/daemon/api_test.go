package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"lethe/agent/erasure"
	"lethe/agent/jobs"
	"lethe/tombstones"
)

// recordingEraser records its calls, checks that the tombstone is in the
// repository when it is called, and fails as told.
type recordingEraser struct {
	t *testing.T

	mu        sync.Mutex
	calls     []string // repo/id
	failFirst map[string]int
}

func (e *recordingEraser) Erase(ctx context.Context, r Repository, id string) (*erasure.Result, error) {
	repo, err := jobs.Open(ctx, r.Repo)
	if err != nil {
		return nil, err
	}
	defer jobs.Close(repo)
	set, err := tombstones.LoadRepoSet(ctx, repo)
	if err != nil {
		return nil, err
	}
	if _, ok := set.Get(id); !ok {
		e.t.Errorf("Erase(%s, %s) before the tombstone is in the repository", r.Name, id)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.calls = append(e.calls, r.Name+"/"+id)
	if e.failFirst[r.Name] > 0 {
		e.failFirst[r.Name]--
		return nil, errors.New("simulated failure")
	}
	return nil, nil
}

func (e *recordingEraser) got() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.calls...)
}

// unixClient talks HTTP over the unix socket at path.
func unixClient(path string) *http.Client {
	return &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", path)
		},
	}}
}

func call(t *testing.T, c *http.Client, method, path, body string, wantStatus int, out any) {
	t.Helper()
	req, err := http.NewRequest(method, "http://lethe"+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != wantStatus {
		t.Fatalf("%s %s: status %d, want %d: %s", method, path, resp.StatusCode, wantStatus, data)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatalf("%s %s: %v: %s", method, path, err, data)
		}
	}
}

// TestErasureOverSocket files an erasure over the real unix socket and
// checks that it reaches the Eraser for every repository once the
// tombstone is there, that a failure there is retried until the erasure
// is complete everywhere, and that nothing of the identifiers is logged.
func TestErasureOverSocket(t *testing.T) {
	s := newSetup(t, `schedules:
  check: "off"
  verify: "off"`)
	clk := newFakeClock(time.Date(2026, 11, 2, 12, 0, 0, 0, time.Local))
	var logBuf syncBuffer
	log := testLog(&logBuf)
	eraser := &recordingEraser{t: t, failFirst: map[string]int{"b": 1}}
	rj := &RepoJobs{Config: s.cfg, Clock: clk, Log: log}
	d, err := New(Options{Config: s.cfg, Jobs: rj, Eraser: eraser, Clock: clk, Log: log, Notify: nopNotifier{}})
	if err != nil {
		t.Fatal(err)
	}
	rj.State = d.state
	ctx, stop := started(t, d)
	d.step(ctx)
	d.waitIdle()

	sock := s.cfg.API.Socket
	fi, err := os.Stat(sock)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Type() != os.ModeSocket || fi.Mode().Perm() != 0o660 {
		t.Errorf("socket mode %v, want a socket with 0660", fi.Mode())
	}
	c := unixClient(sock)

	const email, phone = "anna.andersson@example.se", "070-123 45 67"
	var created ErasureStatus
	call(t, c, "POST", "/v1/erasures", fmt.Sprintf(`{"identifiers":[{"kind":"email","value":%q},{"kind":"phone","value":%q}],"reason":"b","reference":"ticket 17","mode":"rewrite"}`, email, phone), http.StatusCreated, &created)
	if !tombstones.ValidID(created.ID) || created.State != "pending" || len(created.Repositories) != 2 {
		t.Fatalf("created %+v", created)
	}
	wantDeadline := time.Date(2026, 12, 2, 12, 0, 0, 0, time.Local)
	if !created.Deadline.Equal(wantDeadline) {
		t.Errorf("deadline %v, want %v", created.Deadline, wantDeadline)
	}

	runUntil(ctx, t, d, clk, clk.Now().Add(30*time.Second))
	// b failed once and waits for its retry.
	var one ErasureStatus
	call(t, c, "GET", "/v1/erasures/"+created.ID, "", http.StatusOK, &one)
	if one.State != "pending" || one.Repositories[0].State != "complete" || one.Repositories[1].State == "complete" {
		t.Errorf("after the first try: %+v", one)
	}
	var st Status
	call(t, c, "GET", "/v1/status", "", http.StatusOK, &st)
	if st.Erasures.Pending != 1 || st.Erasures.Overdue != 0 {
		t.Errorf("status erasures %+v", st.Erasures)
	}
	runUntil(ctx, t, d, clk, clk.Now().Add(5*time.Minute))

	got := eraser.got()
	sort.Strings(got)
	want := []string{"a/" + created.ID, "b/" + created.ID, "b/" + created.ID}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("eraser calls %v, want %v", got, want)
	}
	call(t, c, "GET", "/v1/erasures/"+created.ID, "", http.StatusOK, &one)
	if one.State != "complete" {
		t.Errorf("after the retry: %+v", one)
	}
	var list struct{ Erasures []ErasureStatus }
	call(t, c, "GET", "/v1/erasures", "", http.StatusOK, &list)
	if len(list.Erasures) != 1 || list.Erasures[0].ID != created.ID || list.Erasures[0].State != "complete" {
		t.Errorf("list %+v", list)
	}
	metrics := get(t, c, "/metrics")
	for _, m := range []string{"lethe_erasures_pending 0", `lethe_job_failures_total{job="erase",repository="b"} 1`} {
		if !strings.Contains(metrics, m) {
			t.Errorf("metrics lack %q", m)
		}
	}
	stop()

	logs := logBuf.String()
	for _, secret := range []string{email, "anna", "123 45 67", "1234567", phone} {
		if strings.Contains(strings.ToLower(logs), strings.ToLower(secret)) {
			t.Errorf("the log holds %q", secret)
		}
	}
	if !strings.Contains(logs, `"uid":`) || !strings.Contains(logs, `"path":"/v1/erasures"`) {
		t.Errorf("the log does not name the caller: %s", logs)
	}
	// The state directory holds no identifier either.
	filepath.WalkDir(s.cfg.StateDir, func(p string, de os.DirEntry, err error) error {
		if err != nil || de.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(data), email) || strings.Contains(string(data), "1234567") {
			t.Errorf("%s holds an identifier", p)
		}
		return nil
	})
}

func get(t *testing.T, c *http.Client, path string) string {
	t.Helper()
	resp, err := c.Get("http://lethe" + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// TestAPIErrors checks the JSON errors and their stable codes.
func TestAPIErrors(t *testing.T) {
	s := newSetup(t, `schedules:
  check: "off"
  verify: "off"`)
	clk := newFakeClock(time.Date(2026, 11, 2, 12, 0, 0, 0, time.Local))
	j := newCountJobs(clk)
	d, err := New(Options{Config: s.cfg, Jobs: j, Clock: clk, Notify: nopNotifier{}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, _ := started(t, d)
	d.step(ctx)
	d.waitIdle()
	c := unixClient(s.cfg.API.Socket)
	for _, tc := range []struct {
		method, path, body string
		status             int
		code               string
	}{
		{"POST", "/v1/erasures", `{"identifiers": [`, 400, CodeInvalidRequest},
		{"POST", "/v1/erasures", `{"identifiers": [], "reason": "b"}`, 400, CodeInvalidRequest},
		{"POST", "/v1/erasures", `{"identifiers": [{"kind": "shoe-size", "value": "44"}]}`, 400, CodeInvalidRequest},
		{"POST", "/v1/erasures", `{"identifiers": [{"kind": "email", "value": "x@example.se"}], "colour": "red"}`, 400, CodeInvalidRequest},
		{"POST", "/v1/erasures", `{"identifiers": [{"kind": "email", "value": "not-an-address"}], "reason": "b"}`, 400, CodeInvalidRequest},
		{"GET", "/v1/erasures/nonsense", "", 400, CodeInvalidRequest},
		{"GET", "/v1/erasures/01JBZZZZZZZZZZZZZZZZZZZZZZ", "", 404, CodeNotFound},
		{"DELETE", "/v1/erasures", "", 405, CodeMethodNotAllowed},
		{"GET", "/v1/backups", "", 405, CodeMethodNotAllowed},
		{"GET", "/v1/receipts/01JBZZZZZZZZZZZZZZZZZZZZZZ", "", 404, CodeNotFound},
		{"GET", "/v2/anything", "", 404, CodeNotFound},
	} {
		var e apiError
		call(t, c, tc.method, tc.path, tc.body, tc.status, &e)
		if e.Error.Code != tc.code || e.Error.Message == "" {
			t.Errorf("%s %s %s: error %+v, want code %s", tc.method, tc.path, tc.body, e, tc.code)
		}
		if strings.Contains(e.Error.Message, "not-an-address") || strings.Contains(e.Error.Message, "x@example.se") {
			t.Errorf("%s %s: the error quotes the identifier: %s", tc.method, tc.path, e.Error.Message)
		}
	}
	var q struct{ Queued []string }
	call(t, c, "POST", "/v1/backups", "", http.StatusAccepted, &q)
	if strings.Join(q.Queued, ",") != "a,b" {
		t.Errorf("queued %v", q.Queued)
	}
	runUntil(ctx, t, d, clk, clk.Now().Add(time.Minute))
	if n := len(j.times("backup", "a")); n != 1 {
		t.Errorf("%d backups after POST /v1/backups", n)
	}
}

// TestListenUnixRefuses checks that the socket is not made in a
// directory anyone may write to, nor over a socket another process
// listens on.
func TestListenUnixRefuses(t *testing.T) {
	open := t.TempDir()
	if err := os.Chmod(open, 0o777); err != nil {
		t.Fatal(err)
	}
	if l, err := ListenUnix(filepath.Join(open, "s.sock"), 0o660); err == nil {
		l.Close()
		t.Error("listened in a world-writable directory")
	}
	dir := t.TempDir()
	p := filepath.Join(dir, "s.sock")
	l, err := ListenUnix(p, 0o660)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	if l2, err := ListenUnix(p, 0o660); err == nil {
		l2.Close()
		t.Error("listened over a live socket")
	}
	// A socket nobody listens on any more is replaced.
	stale := filepath.Join(dir, "stale.sock")
	ls, err := net.Listen("unix", stale)
	if err != nil {
		t.Fatal(err)
	}
	ls.(*net.UnixListener).SetUnlinkOnClose(false)
	ls.Close()
	l3, err := ListenUnix(stale, 0o600)
	if err != nil {
		t.Fatalf("stale socket: %v", err)
	}
	l3.Close()
}

// TestClient: Dial tells no socket and a stale one from an agent that
// answers, and the client files and reads erasure requests.
func TestClient(t *testing.T) {
	s := newSetup(t, `schedules:
  check: "off"
  verify: "off"`)
	sock := s.cfg.API.Socket
	if _, err := Dial(context.Background(), sock); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Dial without a socket: %v, want fs.ErrNotExist", err)
	}
	clk := newFakeClock(time.Date(2026, 11, 2, 12, 0, 0, 0, time.Local))
	d, err := New(Options{Config: s.cfg, Jobs: newCountJobs(clk), Clock: clk, Notify: nopNotifier{}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := started(t, d)
	d.step(ctx)
	d.waitIdle()
	c, err := Dial(ctx, sock)
	if err != nil {
		t.Fatal(err)
	}
	st, err := c.FileErasure(ctx, ErasureRequest{Identifiers: []tombstones.Identifier{{Kind: tombstones.KindEmail, Value: "anna@example.se"}}, Reason: "b"})
	if err != nil || st.State != "pending" || len(st.Repositories) != 2 {
		t.Fatalf("FileErasure: %+v, %v", st, err)
	}
	if got, err := c.Erasure(ctx, st.ID); err != nil || got.ID != st.ID || got.Masked[0] != "a***@example.se" {
		t.Errorf("Erasure: %+v, %v", got, err)
	}
	if all, err := c.Erasures(ctx); err != nil || len(all) != 1 || all[0].ID != st.ID {
		t.Errorf("Erasures: %+v, %v", all, err)
	}
	if _, ok, err := c.Receipt(ctx, st.ID); ok || err != nil {
		t.Errorf("Receipt of a request without an eraser: ok %v, %v", ok, err)
	}
	var ae *APIError
	if _, err := c.FileErasure(ctx, ErasureRequest{Reason: "b"}); !errors.As(err, &ae) || ae.Status != http.StatusBadRequest || ae.Code != CodeInvalidRequest {
		t.Errorf("FileErasure without identifiers: %v", err)
	}
	stop()

	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	l.(*net.UnixListener).SetUnlinkOnClose(false)
	l.Close()
	if _, err := Dial(context.Background(), sock); !errors.Is(err, ErrStaleSocket) {
		t.Errorf("Dial of a stale socket: %v, want ErrStaleSocket", err)
	}
}
