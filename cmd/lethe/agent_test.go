package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"lethe/agent/daemon"
	"lethe/agent/erasure"
	"lethe/agent/jobs"
	"lethe/agent/repository"
	"lethe/agent/repository/restictest"
)

// pgServer is a PostgreSQL server a test started on its own port and
// directory; it stops with the test.
type pgServer struct {
	bin     string // directory of initdb, pg_ctl, postgres
	data    string
	sockDir string
	port    int
	user    string // the database superuser
	runAs   []string
}

// pgBinDir finds PostgreSQL's server programs: on PATH, or in Debian's
// versioned directory. In CI a missing PostgreSQL fails the test (the
// test script installs Debian's postgresql).
func pgBinDir(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("pg_ctl"); err == nil {
		if _, err := exec.LookPath("initdb"); err == nil {
			return filepath.Dir(p)
		}
	}
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/pg_ctl")
	if len(matches) > 0 {
		return filepath.Dir(matches[len(matches)-1])
	}
	t.Fatal("PostgreSQL not found (pg_ctl, initdb): install Debian's postgresql package (.ci/test.sh does)")
	return ""
}

// startPostgres initialises a cluster in the test's temporary directory
// and starts it listening only on a unix socket there. PostgreSQL refuses
// to run as root, so as root the server runs as nobody.
func startPostgres(t *testing.T) *pgServer {
	t.Helper()
	for _, tool := range []string{"psql", "pg_dump"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s not found: install Debian's postgresql package (.ci/test.sh does)", tool)
		}
	}
	p := &pgServer{bin: pgBinDir(t), user: "lethe_test"}
	dir := t.TempDir()
	p.data = filepath.Join(dir, "data")
	p.sockDir = filepath.Join(dir, "sock")
	if err := os.Mkdir(p.sockDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() == 0 {
		p.runAs = []string{"setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "--"}
		// nobody must reach the directories the test made.
		for d := dir; d != os.TempDir() && d != "/"; d = filepath.Dir(d) {
			if err := os.Chmod(d, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.Chown(p.sockDir, 65534, 65534); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(dir, 65534, 65534); err != nil {
			t.Fatal(err)
		}
	}
	// A free port number names the socket file; the server listens on
	// no TCP port.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.port = l.Addr().(*net.TCPAddr).Port
	l.Close()

	p.server(t, "initdb", "-D", p.data, "-U", p.user, "--auth=trust", "--encoding=UTF8", "--locale=C.UTF-8")
	p.server(t, "pg_ctl", "start", "-w", "-D", p.data, "-l", filepath.Join(dir, "server.log"),
		"-o", fmt.Sprintf("-k %s -p %d -c listen_addresses=''", p.sockDir, p.port))
	t.Cleanup(func() {
		cmd := exec.Command(p.program("pg_ctl")[0], append(p.program("pg_ctl")[1:], "stop", "-w", "-m", "fast", "-D", p.data)...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("stopping PostgreSQL: %v\n%s", err, out)
		}
	})
	return p
}

func (p *pgServer) program(name string) []string {
	return append(append([]string(nil), p.runAs...), filepath.Join(p.bin, name))
}

// server runs one of the server's programs as the server's user.
func (p *pgServer) server(t *testing.T, name string, args ...string) {
	t.Helper()
	argv := p.program(name)
	cmd := exec.Command(argv[0], append(argv[1:], args...)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", name, err, out)
	}
}

// conn are the connection options of the client programs.
func (p *pgServer) conn() []string {
	return []string{"-h", p.sockDir, "-p", strconv.Itoa(p.port), "-U", p.user}
}

// psql runs SQL in db and returns its unaligned output.
func (p *pgServer) psql(t *testing.T, db, sql string) string {
	t.Helper()
	args := append(p.conn(), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", db, "-c", sql)
	out, err := exec.Command("psql", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("psql %s: %v\n%s", db, err, out)
	}
	return string(out)
}

// load runs the SQL file in db.
func (p *pgServer) load(t *testing.T, db, file string) {
	t.Helper()
	args := append(p.conn(), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", db, "-f", file)
	if out, err := exec.Command("psql", args...).CombinedOutput(); err != nil {
		t.Fatalf("loading %s into %s: %v\n%s", file, db, err, out)
	}
}

// dumpCommand is the command source's command: a plain-text dump of db.
func (p *pgServer) dumpCommand(db string) []string {
	return append(append([]string{"pg_dump", "-Fp"}, p.conn()...), db)
}

// shopFixture fills a shop database: customers and their orders. The
// erasure test extends it: one customer's rows gone after an erasure,
// every other row there.
type shopFixture struct {
	customers [][3]string // id, name, email
}

func newShop(t *testing.T, p *pgServer) *shopFixture {
	t.Helper()
	s := &shopFixture{customers: [][3]string{
		{"1", "Anna Andersson", "anna.andersson@example.se"},
		{"2", "Bo Berg", "bo.berg@example.se"},
		{"3", "Cecilia Ek", "cecilia.ek@example.se"},
	}}
	p.psql(t, "postgres", "CREATE DATABASE shop")
	var sql strings.Builder
	sql.WriteString("CREATE TABLE customers (id int PRIMARY KEY, name text NOT NULL, email text NOT NULL);\n")
	sql.WriteString("CREATE TABLE orders (id serial PRIMARY KEY, customer int REFERENCES customers(id), total numeric(10,2));\n")
	for _, c := range s.customers {
		fmt.Fprintf(&sql, "INSERT INTO customers VALUES (%s, '%s', '%s');\n", c[0], c[1], c[2])
		fmt.Fprintf(&sql, "INSERT INTO orders (customer, total) VALUES (%s, %s.50), (%s, 10);\n", c[0], c[0], c[0])
	}
	p.psql(t, "shop", sql.String())
	return s
}

// rows returns the rows of db as psql prints them, table by table.
func (s *shopFixture) rows(t *testing.T, p *pgServer, db string) string {
	t.Helper()
	return p.psql(t, db, "SELECT * FROM customers ORDER BY id") + p.psql(t, db, "SELECT * FROM orders ORDER BY id")
}

// agentConfig writes a config with the command source, two local
// repositories (created) and the API socket in dir; it returns the
// config file and the socket.
func agentConfig(t *testing.T, dir string, dump []string) (file, sock string, repos []string) {
	t.Helper()
	repos = []string{filepath.Join(dir, "repo-local"), filepath.Join(dir, "repo-second")}
	var cmd []string
	for _, a := range dump {
		cmd = append(cmd, strconv.Quote(a))
	}
	source := fmt.Sprintf("  - name: shop-db\n    command: [%s]\n    filename: shop.sql\n", strings.Join(cmd, ", "))
	file, sock = writeAgentConfig(t, dir, source, [][2]string{{"local", repos[0]}, {"second", repos[1]}})
	return file, sock, repos
}

// writeAgentConfig creates the repositories (name, location) and writes
// a config with the sources (YAML list items), them and the API socket
// in dir.
func writeAgentConfig(t *testing.T, dir, sources string, repos [][2]string) (file, sock string) {
	t.Helper()
	pw := filepath.Join(dir, "password")
	if err := os.WriteFile(pw, []byte(restictest.Password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var repoYAML strings.Builder
	for _, r := range repos {
		// Cheap key derivation: the agent opens each repository for
		// every job.
		repo, err := jobs.Init(context.Background(), jobs.Repo{Location: r[1], Password: func() (string, error) { return restictest.Password, nil }},
			repository.InitOptions{KDF: &repository.KDFParams{N: 1 << 10, R: 8, P: 1}})
		if err != nil {
			t.Fatal(err)
		}
		if err := jobs.Close(repo); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&repoYAML, "  - name: %s\n    location: %s\n    password-file: %s\n", r[0], r[1], pw)
	}
	if err := os.Mkdir(filepath.Join(dir, "run"), 0o750); err != nil {
		t.Fatal(err)
	}
	sock = filepath.Join(dir, "run", "lethe.sock")
	cfg := fmt.Sprintf(`state-dir: %s
business:
  name: Exempel AB
  contact: dataskydd@exempel.se
sources:
%srepositories:
%sschedules:
  check: "off"
  verify: "off"
api:
  socket: %s
`, filepath.Join(dir, "state"), sources, repoYAML.String(), sock)
	file = filepath.Join(dir, "lethe.yaml")
	if err := os.WriteFile(file, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	mustLethe(t, "config", "check", "--config", file)
	return file, sock
}

// agent runs `lethe agent` in the test process until stop is called.
type agentRun struct {
	cancel context.CancelFunc
	done   chan int
	stderr bytes.Buffer
	client *http.Client
}

func startAgent(t *testing.T, file, sock string) *agentRun {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	a := &agentRun{cancel: cancel, done: make(chan int, 1)}
	go func() {
		a.done <- run(ctx, []string{"agent", "--config", file, "--log-format", "json"}, io.Discard, &a.stderr)
	}()
	a.client = &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", sock)
		},
	}}
	t.Cleanup(func() { a.stop(t) })
	// The agent is up once its socket answers; the time limit only turns
	// a hang into a failure.
	a.waitFor(t, "the API", func() bool {
		resp, err := a.client.Get("http://lethe/v1/status")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return a
}

func (a *agentRun) waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	for giveUp := time.Now().Add(3 * time.Minute); !ok(); {
		if time.Now().After(giveUp) {
			t.Fatalf("gave up waiting for %s; agent log:\n%s", what, a.stderr.String())
		}
		select {
		case code := <-a.done:
			a.done <- code
			t.Fatalf("the agent exited with %d while waiting for %s:\n%s", code, what, a.stderr.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func (a *agentRun) stop(t *testing.T) {
	t.Helper()
	if a.cancel == nil {
		return
	}
	a.cancel()
	a.cancel = nil
	if code := <-a.done; code != 0 {
		t.Errorf("agent exited with %d:\n%s", code, a.stderr.String())
	}
}

// status returns GET /v1/status.
func (a *agentRun) status(t *testing.T) map[string]any {
	t.Helper()
	resp, err := a.client.Get("http://lethe/v1/status")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatal(err)
	}
	return st
}

// backupNow asks the agent for a backup and waits until every
// repository has a successful one.
func (a *agentRun) backupNow(t *testing.T) {
	t.Helper()
	resp, err := a.client.Post("http://lethe/v1/backups", "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("POST /v1/backups: %s", resp.Status)
	}
	a.waitFor(t, "the backups", func() bool {
		repos, _ := a.status(t)["repositories"].([]any)
		for _, r := range repos {
			if r.(map[string]any)["last_successful_backup"] == nil {
				return false
			}
		}
		return len(repos) > 0
	})
}

// TestAgentBacksUpPostgres runs `lethe agent` with a command source that
// dumps a real PostgreSQL database, asks it over the API for a backup,
// and checks that `lethe restore` of the dump loads into a fresh database
// with every row there; `lethe snapshots --config` lists both
// repositories.
func TestAgentBacksUpPostgres(t *testing.T) {
	setupEnv(t)
	pg := startPostgres(t)
	shop := newShop(t, pg)
	want := shop.rows(t, pg, "shop")

	dir := t.TempDir()
	file, sock, repos := agentConfig(t, dir, pg.dumpCommand("shop"))
	a := startAgent(t, file, sock)
	a.backupNow(t)
	a.stop(t)
	if strings.Contains(a.stderr.String(), "anna") {
		t.Errorf("the agent's log names a customer:\n%s", a.stderr.String())
	}

	for _, repo := range repos {
		restictest.Check(t, repo)
		dst := filepath.Join(t.TempDir(), "restore")
		mustLethe(t, "restore", "latest", "--repo", repo, "--target", dst)
		db := "restored_" + filepath.Base(repo)[5:]
		pg.psql(t, "postgres", "CREATE DATABASE "+db)
		pg.load(t, db, filepath.Join(dst, "shop.sql"))
		if got := shop.rows(t, pg, db); got != want {
			t.Errorf("%s: restored rows\n%s\nwant\n%s", repo, got, want)
		}
	}

	out := mustLethe(t, "snapshots", "--config", file)
	if !strings.Contains(out, "repository local ("+repos[0]+")") || !strings.Contains(out, "repository second ("+repos[1]+")") ||
		strings.Count(out, "/shop.sql") != 2 {
		t.Errorf("snapshots --config:\n%s", out)
	}
	out = mustLethe(t, "snapshots", "--config", file, "--repo", "second", "--json")
	var list []snapshotJSON
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		t.Fatalf("snapshots --repo second --json: %v\n%s", err, out)
	}
	if len(list) != 1 || len(list[0].Paths) != 1 || list[0].Paths[0] != "/shop.sql" {
		t.Errorf("snapshots of second: %s", out)
	}
}

// TestAgentErasesFromDatabaseDump files an erasure over the agent's
// socket after a backup of a real PostgreSQL dump: the agent rewrites the
// snapshots in both repositories, and the restored dump loads into a
// fresh database with that customer's rows gone and every other row there.
func TestAgentErasesFromDatabaseDump(t *testing.T) {
	setupEnv(t)
	pg := startPostgres(t)
	pg.psql(t, "postgres", "CREATE DATABASE crm")
	pg.psql(t, "crm", `CREATE TABLE contacts (id int PRIMARY KEY, name text, email text, phone text);
INSERT INTO contacts VALUES (1, 'Anna Andersson', 'anna.andersson@example.se', '070-123 45 67');
INSERT INTO contacts VALUES (2, 'Bo Berg', 'bo.berg@example.se', '070-765 43 21');
INSERT INTO contacts VALUES (3, 'Cecilia Ek', 'cecilia.ek@example.se', '08-123 456 78');`)
	wantRows := "2|Bo Berg|bo.berg@example.se|070-765 43 21\n3|Cecilia Ek|cecilia.ek@example.se|08-123 456 78\n"

	dir := t.TempDir()
	file, sock, repos := agentConfig(t, dir, pg.dumpCommand("crm"))
	a := startAgent(t, file, sock)
	a.backupNow(t)

	body := `{"identifiers": [{"kind": "email", "value": "anna.andersson@example.se"}], "reason": "17(1)(a)", "reference": "T-7"}`
	resp, err := a.client.Post("http://lethe/v1/erasures", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	var st struct {
		ID           string `json:"id"`
		State        string `json:"state"`
		Repositories []struct{ Repository, State string }
	}
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil || resp.StatusCode/100 != 2 {
		t.Fatalf("POST /v1/erasures: %s %v", resp.Status, err)
	}
	resp.Body.Close()
	a.waitFor(t, "the erasure", func() bool {
		resp, err := a.client.Get("http://lethe/v1/erasures/" + st.ID)
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		if json.NewDecoder(resp.Body).Decode(&st) != nil {
			return false
		}
		return st.State == "complete"
	})
	// The customer's receipt, over the API, in Swedish.
	resp, err = a.client.Get("http://lethe/v1/receipts/" + st.ID + "?format=text&lang=sv")
	if err != nil {
		t.Fatal(err)
	}
	text, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(text), "Exempel AB") || !strings.Contains(string(text), st.ID) {
		t.Errorf("GET /v1/receipts/%s: %s\n%s", st.ID, resp.Status, text)
	}
	a.stop(t)
	if strings.Contains(a.stderr.String(), "anna") || strings.Contains(string(text), "anna") {
		t.Errorf("the agent's log or the receipt names the customer:\n%s\n%s", a.stderr.String(), text)
	}

	for i, repo := range repos {
		restictest.Check(t, repo)
		dst := filepath.Join(t.TempDir(), "restic")
		restictest.Run(t, repo, "restore", "latest", "--target", dst)
		db := fmt.Sprintf("restored%d", i)
		pg.psql(t, "postgres", "CREATE DATABASE "+db)
		pg.load(t, db, filepath.Join(dst, "shop.sql"))
		if got := pg.psql(t, db, "SELECT * FROM contacts ORDER BY id"); got != wantRows {
			t.Errorf("%s: restored contacts\n%s\nwant\n%s", repo, got, wantRows)
		}
	}
	// The receipt of the request is stored, signed, in the repositories.
	out := mustLethe(t, "-r", repos[0], "--state-dir", filepath.Join(dir, "state"), "receipts", "list")
	if !strings.Contains(out, st.ID) {
		t.Errorf("no receipt of %s:\n%s", st.ID, out)
	}
}

// fileErasure files an erasure of email over the agent's socket and
// waits until it is complete in every repository.
func (a *agentRun) fileErasure(t *testing.T, email string) daemon.ErasureStatus {
	t.Helper()
	body := fmt.Sprintf(`{"identifiers": [{"kind": "email", "value": %q}], "reason": "17(1)(a)"}`, email)
	resp, err := a.client.Post("http://lethe/v1/erasures", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	var st daemon.ErasureStatus
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST /v1/erasures: %s %v", resp.Status, err)
	}
	resp.Body.Close()
	a.waitFor(t, "the erasure", func() bool {
		resp, err := a.client.Get("http://lethe/v1/erasures/" + st.ID)
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		return json.NewDecoder(resp.Body).Decode(&st) == nil && st.State == "complete"
	})
	return st
}

// planSteps counts the plan steps of erasure id's journal in the
// repository: one for an erasure carried out once.
func planSteps(t *testing.T, location, id string) int {
	t.Helper()
	repo, err := jobs.Open(context.Background(), jobs.Repo{Location: location, Password: func() (string, error) { return restictest.Password, nil }})
	if err != nil {
		t.Fatal(err)
	}
	defer jobs.Close(repo)
	j, err := erasure.LoadJournal(context.Background(), repo, id)
	if err != nil {
		t.Fatal(err)
	}
	if !j.Complete() {
		t.Errorf("%s: the journal of %s is not complete", location, id)
	}
	n := 0
	for _, s := range j.Steps {
		if s.Kind == erasure.StepPlan {
			n++
		}
	}
	return n
}

// TestAgentErasesInLocalAndS3 runs the agent with a local repository and
// one on a versioned bucket of the real S3 server. An erasure filed over
// the unix socket completes in both (journals complete, restic's check
// clean, restic's restore without the subject and every other byte
// there) and its final receipt, fetched over the API, verifies. Then
// `lethe erase --config` with the agent running goes through the API:
// the agent logs the request as the caller's, carries it out once, and
// `lethe erasures list --config` reads the agent's requests. With the
// agent stopped and a stale socket left behind, the CLI works directly.
func TestAgentErasesInLocalAndS3(t *testing.T) {
	s, env := s3Env(t)
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	writeTree(t, src)
	s3repo := s.URL(s.NewBucket(t, true), "lethe")
	local := filepath.Join(dir, "repo-local")
	file, sock := writeAgentConfig(t, dir, fmt.Sprintf("  - name: files\n    paths: [%s]\n", src), [][2]string{{"local", local}, {"s3", s3repo}})
	stateDir := filepath.Join(dir, "state")
	a := startAgent(t, file, sock)
	a.backupNow(t)

	st := a.fileErasure(t, "anna@example.se")
	resp, err := a.client.Get("http://lethe/v1/receipts/" + st.ID)
	if err != nil {
		t.Fatal(err)
	}
	receipt, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !bytes.Contains(receipt, []byte(`"final":true`)) {
		t.Fatalf("GET /v1/receipts/%s: %s\n%s", st.ID, resp.Status, receipt)
	}
	receiptFile := filepath.Join(dir, "receipt.json")
	if err := os.WriteFile(receiptFile, receipt, 0o600); err != nil {
		t.Fatal(err)
	}
	if out := mustLethe(t, "receipts", "verify", receiptFile, "--state-dir", stateDir); !strings.Contains(out, "signature valid") {
		t.Errorf("receipts verify:\n%s", out)
	}

	// The CLI with the agent running: through the API, once.
	out := mustLethe(t, "erase", "--config", file, "--email", "bo@example.se", "--reason", "17(1)(b)")
	if !strings.Contains(out, "filed with the agent") || !strings.Contains(out, "repository local: complete") ||
		!strings.Contains(out, "repository s3: complete") || !strings.Contains(out, "(final)") {
		t.Fatalf("erase --config with the agent running:\n%s", out)
	}
	second := strings.Fields(strings.TrimPrefix(out, "erasure "))[0]
	if _, errOut, code := lethe(t, "erase", "--config", file, "--email", "bo@example.se", "--reason", "b", "--record-only"); code == 0 || !strings.Contains(errOut, "--record-only cannot be used while the agent runs") {
		t.Errorf("erase --record-only with the agent running: exit %d\n%s", code, errOut)
	}
	list := mustLethe(t, "erasures", "list", "--config", file)
	if strings.Count(list, ": complete (rewrite mode)") != 2 || !strings.Contains(list, st.ID) || !strings.Contains(list, second) {
		t.Errorf("erasures list --config:\n%s", list)
	}
	if show := mustLethe(t, "erasures", "show", "--config", file, second[:12]); !strings.Contains(show, "erasure "+second+": complete") {
		t.Errorf("erasures show --config:\n%s", show)
	}
	a.stop(t)
	log := a.stderr.String()
	if strings.Contains(log, "anna") || strings.Contains(log, "bo@") {
		t.Errorf("the agent's log names a customer:\n%s", log)
	}
	var filed []map[string]any
	for _, line := range strings.Split(log, "\n") {
		var rec map[string]any
		if json.Unmarshal([]byte(line), &rec) == nil && rec["msg"] == "erasure request recorded" && rec["erasure"] == second {
			filed = append(filed, rec)
		}
	}
	if len(filed) != 1 || filed[0]["via"] != "api" || filed[0]["uid"] != float64(os.Getuid()) {
		t.Errorf("the agent's log of the CLI's request: %v", filed)
	}

	kunder := filepath.Join(src, "kunder", "kunder.csv")
	kunderInfo, err := os.Stat(kunder)
	if err != nil {
		t.Fatal(err)
	}
	kunderData, err := os.ReadFile(kunder)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []struct {
		location string
		restic   func(args ...string) string
	}{
		{local, func(args ...string) string { return restictest.Run(t, local, args...) }},
		{s3repo, func(args ...string) string { return resticNoLock(t, s3repo, env, args...) }},
	} {
		for _, id := range []string{st.ID, second} {
			if n := planSteps(t, r.location, id); n != 1 {
				t.Errorf("%s: erasure %s planned %d times, want once", r.location, id, n)
			}
		}
		if out := r.restic("check", "--read-data"); !strings.Contains(out, "no errors were found") {
			t.Errorf("restic check of %s:\n%s", r.location, out)
		}
		target := filepath.Join(t.TempDir(), "restore")
		r.restic("restore", "latest", "--target", target)
		// Both customers' rows are gone, with the file's mtime kept; put
		// the source's back to compare every other byte and attribute.
		restored := filepath.Join(target, kunder)
		if got, err := os.ReadFile(restored); err != nil || string(got) != "kundnr;namn;epost\n" {
			t.Errorf("%s: kunder.csv restored as %q, %v; want only the header", r.location, got, err)
		}
		if err := os.WriteFile(restored, kunderData, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(restored, kunderInfo.ModTime(), kunderInfo.ModTime()); err != nil {
			t.Fatal(err)
		}
		if err := compareTrees(src, filepath.Join(target, src)); err != nil {
			t.Errorf("restic restore from %s: %v", r.location, err)
		}
	}

	// A stale socket: the CLI says so and works directly.
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	l.(*net.UnixListener).SetUnlinkOnClose(false)
	l.Close()
	out, errOut, code := lethe(t, "erasures", "list", "--config", file, "--state-dir", stateDir)
	if code != 0 || !strings.Contains(errOut, "does not answer") || !strings.Contains(out, second) {
		t.Errorf("erasures list with a stale socket: exit %d\n%s\n%s", code, out, errOut)
	}
}
