package erasure

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"lethe/agent/archiver"
	"lethe/agent/formats"
	"lethe/agent/repository"
	"lethe/agent/repository/restictest"
	"lethe/backends"
	"lethe/backends/local"
	"lethe/tombstones"
)

const (
	annaEmail = "anna.svensson@example.se"
	tombID    = "01JD0000000000000000000000"
)

var (
	csvKeep   = "id,namn,epost\n1,Bo Ek,bo.ek@example.se\n"
	csvAnna   = "2,Anna Svensson,anna.svensson@example.se\n"
	csvTail   = "3,Cia Berg,cia@example.se\n"
	mailBo    = "From bo@example.se Mon Jan  1 00:00:00 2024\nFrom: bo@example.se\nSubject: hej\n\nhej hej\n\n"
	mailAnna  = "From anna.svensson@example.se Mon Jan  1 00:00:00 2024\nFrom: anna.svensson@example.se\nSubject: order\n\nmin order\n\n"
	mailCia   = "From cia@example.se Mon Jan  1 00:00:00 2024\nFrom: cia@example.se\nSubject: fråga\n\nen fråga\n"
	invoice   = "nr,kund,belopp\n17,anna.svensson@example.se,100\n18,bo.ek@example.se,200\n"
	vcardAnna = "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Anna Svensson\r\nEMAIL:anna.svensson@example.se\r\nEND:VCARD\r\n"
)

// business writes the test data: the subject in a CSV row, a mail, a
// file named after her and a held invoice.
func business(t testing.TB, dir string, day int) {
	t.Helper()
	files := map[string]string{
		"kunder.csv":                         csvKeep + csvAnna + csvTail,
		"mail/inbox.mbox":                    mailBo + mailAnna + mailCia,
		"kontakter/" + annaEmail + ".vcf":    vcardAnna,
		"bokforing/fakturor.csv":             invoice,
		"dagbok.txt":                         fmt.Sprintf("dag %d\n", day),
		"kontakter/bo.vcf":                   strings.ReplaceAll(vcardAnna, "anna.svensson", "bo.ek"),
		"mail/arkiv/" + annaEmail + "/x.eml": "From: x@example.se\n\nx\n",
	}
	for name, data := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

type testEnv struct {
	repoDir string
	src     string
	snaps   []*repository.Snapshot
}

var testKDF = &repository.KDFParams{N: 1 << 10, R: 8, P: 1}

// initRepo creates a repository in dir.
func initRepo(t testing.TB, dir string) *repository.Repository {
	t.Helper()
	be, err := local.Create(dir)
	if err != nil {
		t.Fatal(err)
	}
	repo, err := repository.Init(context.Background(), be, restictest.Password, repository.InitOptions{KDF: testKDF})
	if err != nil {
		t.Fatal(err)
	}
	return repo
}

func newEnv(t testing.TB, days int) *testEnv {
	t.Helper()
	ctx := context.Background()
	env := &testEnv{repoDir: filepath.Join(t.TempDir(), "repo"), src: filepath.Join(t.TempDir(), "srv")}
	repo := initRepo(t, env.repoDir)
	var parent *repository.Snapshot
	for d := 0; d < days; d++ {
		business(t, env.src, d)
		when := time.Date(2026, 11, 20+d, 2, 0, 0, 0, time.UTC)
		sn, _, err := archiver.New(repo, archiver.Options{}).Snapshot(ctx, []string{env.src}, archiver.SnapshotOptions{Time: when, Hostname: "kontoret", Tags: []string{"nightly"}, Parent: parent})
		if err != nil {
			t.Fatal(err)
		}
		env.snaps = append(env.snaps, sn)
		parent = sn
	}
	if err := repo.Close(); err != nil {
		t.Fatal(err)
	}
	return env
}

func (env *testEnv) open(t testing.TB) *repository.Repository {
	t.Helper()
	be, err := local.Open(env.repoDir)
	if err != nil {
		t.Fatal(err)
	}
	repo, err := repository.Open(context.Background(), be, restictest.Password, repository.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := repo.LoadIndex(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { repo.Close() })
	return repo
}

func annaRedactor(t testing.TB) *formats.Redactor {
	t.Helper()
	n, err := tombstones.NewNormalizer("SE", nil)
	if err != nil {
		t.Fatal(err)
	}
	m, err := tombstones.NewIdentifierMatcher(n, []tombstones.Identifier{{Kind: tombstones.KindEmail, Value: annaEmail}})
	if err != nil {
		t.Fatal(err)
	}
	return formats.NewRedactor(m, nil)
}

var invoiceHold = Hold{Name: "bokföring", Paths: []string{"bokforing/**"}, Basis: "Bokföringslagen 7 kap. 2 §", Years: 7}

func eraseOpts(t testing.TB) Options {
	return Options{Tombstone: tombID, Redactor: annaRedactor(t), Rules: Rules{Holds: []Hold{invoiceHold}}, Prune: repository.PruneOptions{}}
}

type resticSnapshot struct {
	ID       string    `json:"id"`
	Time     time.Time `json:"time"`
	Hostname string    `json:"hostname"`
	Paths    []string  `json:"paths"`
	Tags     []string  `json:"tags"`
	Original string    `json:"original"`
}

// checkErased asserts what restic sees after the erasure: a clean
// repository, the snapshots' metadata kept, and every snapshot restoring
// to its original minus exactly the subject's records.
func checkErased(t *testing.T, env *testEnv) {
	t.Helper()
	restictest.Check(t, env.repoDir)
	var snaps []resticSnapshot
	if err := json.Unmarshal([]byte(restictest.Run(t, env.repoDir, "snapshots", "--json")), &snaps); err != nil {
		t.Fatal(err)
	}
	if len(snaps) != len(env.snaps) {
		t.Fatalf("restic lists %d snapshots, want %d", len(snaps), len(env.snaps))
	}
	slices.SortFunc(snaps, func(a, b resticSnapshot) int { return a.Time.Compare(b.Time) })
	for i, s := range snaps {
		old := env.snaps[i]
		if !s.Time.Equal(old.Time) || s.Hostname != old.Hostname || !slices.Equal(s.Paths, old.Paths) || !slices.Equal(s.Tags, old.Tags) {
			t.Errorf("snapshot %d: %v %s %v %v, want the original's %v %s %v %v", i, s.Time, s.Hostname, s.Paths, s.Tags, old.Time, old.Hostname, old.Paths, old.Tags)
		}
		if s.Original != old.ID.String() {
			t.Errorf("snapshot %d: original %q, want %s", i, s.Original, old.ID)
		}
		dst := t.TempDir()
		restictest.Run(t, env.repoDir, "restore", s.ID, "--target", dst)
		root := filepath.Join(dst, env.src)
		want := map[string]string{
			"kunder.csv":             csvKeep + csvTail,
			"mail/inbox.mbox":        mailBo + mailCia,
			"bokforing/fakturor.csv": invoice,
			"dagbok.txt":             fmt.Sprintf("dag %d\n", i),
			"kontakter/bo.vcf":       strings.ReplaceAll(vcardAnna, "anna.svensson", "bo.ek"),
		}
		got := map[string]string{}
		err := filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
			if err != nil || fi.IsDir() {
				return err
			}
			data, err := os.ReadFile(p)
			rel, _ := filepath.Rel(root, p)
			got[rel] = string(data)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		for name, w := range want {
			if got[name] != w {
				t.Errorf("snapshot %d: %s restored as %q, want %q", i, name, got[name], w)
			}
		}
		for name := range got {
			if _, ok := want[name]; !ok {
				t.Errorf("snapshot %d: %s restored, want it gone", i, name)
			}
		}
		if _, err := os.Stat(filepath.Join(root, "mail/arkiv", annaEmail)); err == nil {
			t.Errorf("snapshot %d: the folder named after the subject is still there", i)
		}
	}
}

// checkNoBlobHolds asserts that no stored blob holds the subject, except
// the held invoice's.
func checkNoBlobHolds(t *testing.T, env *testEnv) {
	t.Helper()
	repo := env.open(t)
	ctx := context.Background()
	var hs []repository.BlobHandle
	repo.EachBlob(func(pb repository.PackedBlob) bool {
		hs = append(hs, pb.BlobHandle)
		return true
	})
	for _, h := range hs {
		data, err := repo.LoadBlob(ctx, h.Type, h.ID, nil)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(data, []byte("anna.svensson")) && !bytes.Equal(data, []byte(invoice)) {
			t.Errorf("%s still holds the subject: %.80q", h, data)
		}
	}
}

func TestEraseRewrite(t *testing.T) {
	env := newEnv(t, 3)
	repo := env.open(t)
	opts := eraseOpts(t)
	indexed := map[string]string{}
	opts.IndexLimit = 1 << 20
	opts.Indexed = func(p string, node *repository.Node, data []byte) {
		if uint64(len(data)) != node.Size {
			t.Errorf("%s indexed with %d bytes, node says %d", p, len(data), node.Size)
		}
		indexed[path.Base(p)] = string(data)
	}
	res, err := Run(context.Background(), repo, opts)
	if err != nil {
		t.Fatal(err)
	}
	// The redacted content went to the index once per new content.
	if indexed["kunder.csv"] != csvKeep+csvTail || indexed["inbox.mbox"] != mailBo+mailCia || len(indexed) != 2 {
		t.Errorf("indexed %q", indexed)
	}
	if len(res.Snapshots) != 3 || res.FoundNowhere || !res.Verify.OK {
		t.Fatalf("result: %+v", res)
	}
	for i, s := range res.Snapshots {
		if s.New == nil || s.Old != env.snaps[i].ID {
			t.Errorf("snapshot %d: %s → %v", i, s.Old.Str(), s.New)
		}
		r := s.Removed
		if r.FilesRedacted != 2 || r.FilesDropped != 2 || r.DirsDropped != 1 || r.Records[formats.FormatCSV] != 1 || r.Records[formats.FormatMbox] != 1 {
			t.Errorf("snapshot %d removed %+v", i, r)
		}
		if len(s.Held) != 1 || s.Held[0].Records != 1 || s.Held[0].Basis != invoiceHold.Basis {
			t.Errorf("snapshot %d held %+v", i, s.Held)
		}
	}
	if res.Prune == nil || res.Prune.PacksRepacked+res.Prune.PacksRemoved == 0 {
		t.Errorf("prune did nothing: %+v", res.Prune)
	}
	checkErased(t, env)
	checkNoBlobHolds(t, env)

	// Done is done: a second run returns the journaled result.
	again, err := Run(context.Background(), env.open(t), eraseOpts(t))
	if err != nil || !again.Completed.Equal(res.Completed) {
		t.Fatalf("second run: %v %v", again, err)
	}
	j, err := LoadJournal(context.Background(), env.open(t), tombID)
	if err != nil {
		t.Fatal(err)
	}
	if st := j.Status(time.Now()); st.State != StateVerified {
		t.Errorf("status %s, want verified", st.State)
	}
	// Deep verification of the rewritten repository finds nothing.
	e := newEraser(env.open(t), eraseOpts(t), &Journal{Tombstone: tombID})
	e.opts.Rules.Deep = true
	v, err := e.verify(context.Background())
	if err != nil || !v.OK || v.FilesChecked != 3*5 {
		t.Errorf("deep verify: %+v %v", v, err)
	}
}

func TestEraseFoundNowhere(t *testing.T) {
	env := newEnv(t, 1)
	n, _ := tombstones.NewNormalizer("SE", nil)
	m, err := tombstones.NewIdentifierMatcher(n, []tombstones.Identifier{{Kind: tombstones.KindEmail, Value: "nobody@example.se"}})
	if err != nil {
		t.Fatal(err)
	}
	res, err := Run(context.Background(), env.open(t), Options{Tombstone: tombID, Redactor: formats.NewRedactor(m, nil)})
	if err != nil {
		t.Fatal(err)
	}
	if !res.FoundNowhere || !res.Verify.OK || res.Snapshots[0].New != nil {
		t.Errorf("result %+v", res)
	}
	var snaps []resticSnapshot
	json.Unmarshal([]byte(restictest.Run(t, env.repoDir, "snapshots", "--json")), &snaps)
	if len(snaps) != 1 || snaps[0].ID != env.snaps[0].ID.String() {
		t.Errorf("snapshots changed: %+v", snaps)
	}
}

func TestEraseExpire(t *testing.T) {
	env := newEnv(t, 2)
	opts := eraseOpts(t)
	opts.Mode = ModeExpire
	res, err := Run(context.Background(), env.open(t), opts)
	if err != nil {
		t.Fatal(err)
	}
	want := env.snaps[1].Time.Add(7 * 24 * time.Hour)
	if res.ExpiresAt == nil || !res.ExpiresAt.Equal(want) || res.Prune != nil {
		t.Errorf("expire result %+v, want expiry %v", res, want)
	}
	var snaps []resticSnapshot
	json.Unmarshal([]byte(restictest.Run(t, env.repoDir, "snapshots", "--json")), &snaps)
	if len(snaps) != 2 {
		t.Errorf("expire changed the snapshots: %+v", snaps)
	}
	j, _ := LoadJournal(context.Background(), env.open(t), tombID)
	if st := j.Status(want.Add(-time.Hour)); st.State != StateExpiring {
		t.Errorf("status before expiry %s", st.State)
	}
	if st := j.Status(want.Add(time.Hour)); st.State != StateVerified {
		t.Errorf("status after expiry %s", st.State)
	}
}

// crashRepo fails after its n-th change to the repository, as if the
// process died right after it: the change is made, the caller never
// learns.
type crashRepo struct {
	*repository.Repository
	n, calls int
}

var errCrash = errors.New("injected crash")

func (c *crashRepo) crash() error {
	c.calls++
	if c.calls >= c.n {
		return errCrash
	}
	return nil
}

// dead reports whether the crash happened: nothing works after it.
func (c *crashRepo) dead() bool { return c.calls >= c.n }

func (c *crashRepo) LoadLethe(ctx context.Context, name string) ([]byte, error) {
	if c.dead() {
		return nil, errCrash
	}
	return c.Repository.LoadLethe(ctx, name)
}

func (c *crashRepo) SaveSnapshot(ctx context.Context, sn *repository.Snapshot) (repository.ID, error) {
	if c.dead() {
		return repository.ID{}, errCrash
	}
	id, err := c.Repository.SaveSnapshot(ctx, sn)
	if err == nil {
		err = c.crash()
	}
	return id, err
}

func (c *crashRepo) RemoveUnpacked(ctx context.Context, t backends.FileType, id repository.ID) error {
	if c.dead() {
		return errCrash
	}
	err := c.Repository.RemoveUnpacked(ctx, t, id)
	if err == nil {
		err = c.crash()
	}
	return err
}

func (c *crashRepo) SaveLethe(ctx context.Context, name string, data []byte) error {
	if c.dead() {
		return errCrash
	}
	err := c.Repository.SaveLethe(ctx, name, data)
	if err == nil {
		err = c.crash()
	}
	return err
}

func (c *crashRepo) Prune(ctx context.Context, opts repository.PruneOptions) (repository.PruneStats, error) {
	if c.dead() {
		return repository.PruneStats{}, errCrash
	}
	st, err := c.Repository.Prune(ctx, opts)
	if err == nil {
		err = c.crash()
	}
	return st, err
}

// TestEraseResumes crashes the erasure after each of its changes to the
// repository in turn and resumes it with a fresh handle: it always
// finishes, with no snapshot lost or doubled and the subject gone.
func TestEraseResumes(t *testing.T) {
	for n := 1; ; n++ {
		env := newEnv(t, 2)
		c := &crashRepo{Repository: env.open(t), n: n}
		_, err := Run(context.Background(), c, eraseOpts(t))
		if err == nil {
			if n < 5 {
				t.Fatalf("only %d changes before the erasure was done", n)
			}
			break
		}
		if !errors.Is(err, errCrash) {
			t.Fatalf("crash %d: %v", n, err)
		}
		res, err := Run(context.Background(), env.open(t), eraseOpts(t))
		if err != nil {
			t.Fatalf("resume after crash %d: %v", n, err)
		}
		if !res.Verify.OK || len(res.Snapshots) != 2 {
			t.Fatalf("resume after crash %d: %+v", n, res)
		}
		checkErased(t, env)
		checkNoBlobHolds(t, env)
	}
}

// screenFunc is a Screen from a function.
type screenFunc func(*repository.Node) bool

func (f screenFunc) MayHold(n *repository.Node) bool { return f(n) }

// A snapshot forgotten but not yet pruned still holds the subject in its
// blobs: the erasure-grade prune takes them, and leaves unreferenced blobs
// that cannot hold her to the normal threshold.
func TestEraseTakesForgottenSnapshots(t *testing.T) {
	ctx := context.Background()
	env := newEnv(t, 1)
	repo := env.open(t)
	const (
		oldRow = "4,Anna Svensson,anna.svensson@example.se,gammal kund\n"
		clean  = "inget om någon kund här\n"
		shared = "delad fil i två ögonblicksbilder\n"
	)
	snapshotOf := func(files map[string]string) *repository.Snapshot {
		t.Helper()
		dir := t.TempDir()
		for name, data := range files {
			if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		sn, _, err := archiver.New(repo, archiver.Options{}).Snapshot(ctx, []string{dir}, archiver.SnapshotOptions{Time: time.Date(2026, 11, 10, 2, 0, 0, 0, time.UTC), Hostname: "kontoret"})
		if err != nil {
			t.Fatal(err)
		}
		return sn
	}
	// Each backup writes its own pack: the clean blob shares one with a
	// blob a kept snapshot references, so only the threshold decides it.
	forgotten := []*repository.Snapshot{
		snapshotOf(map[string]string{"gamla.csv": csvKeep + oldRow}),
		snapshotOf(map[string]string{"ren.txt": clean, "delad.txt": shared}),
	}
	kept := snapshotOf(map[string]string{"delad.txt": shared})
	for _, sn := range forgotten {
		if err := repo.RemoveUnpacked(ctx, backends.SnapshotFile, sn.ID); err != nil {
			t.Fatal(err)
		}
	}
	env.snaps = append(env.snaps, kept)

	opts := eraseOpts(t)
	opts.Prune.MaxUnused = 1 // keep every partly used pack unless forced
	opts.Screen = screenFunc(func(n *repository.Node) bool { return n.Name != "ren.txt" })
	res, err := Run(ctx, repo, opts)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Verify.OK {
		t.Fatalf("verify: %+v", res.Verify)
	}
	stored := func(data string) bool {
		return len(repo.LookupAll(repository.BlobHandle{ID: repository.Hash([]byte(data)), Type: repository.DataBlob})) > 0
	}
	if stored(csvKeep + oldRow) {
		t.Error("the forgotten snapshot's CSV holding the subject is still stored")
	}
	if !stored(clean) {
		t.Error("an unreferenced blob the index rules out was pruned despite the threshold")
	}
	restictest.Check(t, env.repoDir)
	checkNoBlobHolds(t, env)
}

// A hold shorter than the window ends while its snapshots are kept: the
// erasure runs again then, removes what the hold kept from each snapshot
// whose hold ended, keeps what holds still running keep, and runs once.
func TestEraseRerunsWhenHoldEnds(t *testing.T) {
	ctx := context.Background()
	env := newEnv(t, 3) // snapshots on 20, 21 and 22 November, 02:00
	short := Hold{Name: "avtal", Paths: []string{"kunder.csv"}, Basis: "avtalet", Days: 2}
	now := time.Date(2026, 11, 22, 3, 0, 0, 0, time.UTC)
	opts := func() Options {
		o := eraseOpts(t)
		o.Rules.Holds = []Hold{short, invoiceHold}
		o.Now = func() time.Time { return now }
		return o
	}
	restored := func(i int) string {
		t.Helper()
		var snaps []resticSnapshot
		if err := json.Unmarshal([]byte(restictest.Run(t, env.repoDir, "snapshots", "--json")), &snaps); err != nil {
			t.Fatal(err)
		}
		slices.SortFunc(snaps, func(a, b resticSnapshot) int { return a.Time.Compare(b.Time) })
		dst := t.TempDir()
		restictest.Run(t, env.repoDir, "restore", snaps[i].ID, "--target", dst)
		data, err := os.ReadFile(filepath.Join(dst, env.src, "kunder.csv"))
		if err != nil {
			t.Fatal(err)
		}
		return string(data)
	}
	steps := func() int {
		t.Helper()
		j, err := LoadJournal(ctx, env.open(t), tombID)
		if err != nil {
			t.Fatal(err)
		}
		return len(j.Steps)
	}

	res, err := Run(ctx, env.open(t), opts())
	if err != nil {
		t.Fatal(err)
	}
	// The first snapshot's hold ended at 02:00 today: its row is gone;
	// the other two keep it until 23 and 24 November.
	wantUntil := time.Date(2026, 11, 23, 2, 0, 0, 0, time.UTC)
	if res.HeldUntil == nil || !res.HeldUntil.Equal(wantUntil) || res.Rerun != 0 {
		t.Fatalf("held until %v (run %d), want %v", res.HeldUntil, res.Rerun, wantUntil)
	}
	// The last held copy goes when the last snapshot leaves the window:
	// its invoice is held for seven years.
	if want := time.Date(2026, 11, 29, 2, 0, 0, 0, time.UTC); res.HeldCopiesEnd == nil || !res.HeldCopiesEnd.Equal(want) {
		t.Errorf("held copies end %v, want %v", res.HeldCopiesEnd, want)
	}
	full := csvKeep + csvAnna + csvTail
	for i, want := range []string{csvKeep + csvTail, full, full} {
		if got := restored(i); got != want {
			t.Errorf("before the hold ends, snapshot %d: kunder.csv %q, want %q", i, got, want)
		}
	}
	n := steps()
	if _, err := Run(ctx, env.open(t), opts()); err != nil || steps() != n {
		t.Fatalf("run again before the hold ended: %v, %d steps, want %d", err, steps(), n)
	}
	j, _ := LoadJournal(ctx, env.open(t), tombID)
	if st := j.Status(now); st.State != StateVerified || st.Due || st.HeldUntil == nil {
		t.Errorf("status before the end: %+v", st)
	}
	if st := j.Status(wantUntil); !st.Due {
		t.Errorf("status at the end: %+v, want due", st)
	}

	// Past both ends the rows go from every snapshot; the invoice stays.
	now = time.Date(2026, 11, 24, 3, 0, 0, 0, time.UTC)
	res, err = Run(ctx, env.open(t), opts())
	if err != nil {
		t.Fatal(err)
	}
	if res.Rerun != 1 || !res.Verify.OK || res.FoundNowhere || res.HeldUntil == nil || res.HeldUntil.Year() != 2033 {
		t.Fatalf("run again: %+v", res)
	}
	rewritten := 0
	for _, s := range res.Snapshots {
		if s.New != nil {
			rewritten++
		}
	}
	if rewritten != 2 || res.Removed.Records[formats.FormatCSV] != 2 {
		t.Errorf("run again rewrote %d snapshots, removed %v; want 2 and csv 2", rewritten, res.Removed.Records)
	}
	checkErased(t, env)
	checkNoBlobHolds(t, env)
	n = steps()
	if again, err := Run(ctx, env.open(t), opts()); err != nil || steps() != n || again.Rerun != 1 {
		t.Fatalf("a third run: %v, %d steps, want %d", err, steps(), n)
	}
}

// A hold longer than the window: the held snapshot is forgotten and the
// normal prune leaves its held blob (its pack is still partly used). The
// erasure runs again, rewrites nothing, and its erasure-grade prune takes
// the blob: no backup copy holds the subject any more.
func TestEraseRerunTakesForgottenHeldBlobs(t *testing.T) {
	ctx := context.Background()
	env := newEnv(t, 0)
	repo := env.open(t)
	const shared = "delad fil i båda ögonblicksbilderna\n"
	heldA := invoice + "19,anna.svensson@example.se,300\n"
	snapshotOf := func(day int, inv string) *repository.Snapshot {
		t.Helper()
		dir := t.TempDir()
		if err := os.MkdirAll(filepath.Join(dir, "bokforing"), 0o755); err != nil {
			t.Fatal(err)
		}
		for name, data := range map[string]string{"bokforing/fakturor.csv": inv, "delad.txt": shared} {
			if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		sn, _, err := archiver.New(repo, archiver.Options{}).Snapshot(ctx, []string{dir}, archiver.SnapshotOptions{Time: time.Date(2026, 11, 20+day, 2, 0, 0, 0, time.UTC), Hostname: "kontoret"})
		if err != nil {
			t.Fatal(err)
		}
		return sn
	}
	old := snapshotOf(0, heldA)
	snapshotOf(1, invoice)
	now := time.Date(2026, 11, 21, 3, 0, 0, 0, time.UTC)
	opts := eraseOpts(t)
	opts.Now = func() time.Time { return now }
	opts.Prune.MaxUnused = 1
	res, err := Run(ctx, repo, opts)
	if err != nil {
		t.Fatal(err)
	}
	if res.HeldUntil == nil || len(res.HeldSnapshots()) != 2 {
		t.Fatalf("held: %+v", res)
	}
	heldBlob := repository.BlobHandle{ID: repository.Hash([]byte(heldA)), Type: repository.DataBlob}
	// Forget the old snapshot and prune as the retention job does.
	if err := repo.RemoveUnpacked(ctx, backends.SnapshotFile, old.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := repo.Prune(ctx, repository.PruneOptions{MaxUnused: 1}); err != nil {
		t.Fatal(err)
	}
	if len(repo.LookupAll(heldBlob)) == 0 {
		t.Fatal("the normal prune took the held blob: the test shows nothing")
	}
	now = now.Add(24 * time.Hour)
	res, err = Run(ctx, repo, opts)
	if err != nil {
		t.Fatal(err)
	}
	if res.Rerun != 1 || !res.Verify.OK || res.Removed.RecordsTotal() != 0 || len(res.HeldSnapshots()) != 1 {
		t.Fatalf("run again: %+v", res)
	}
	if len(repo.LookupAll(heldBlob)) != 0 {
		t.Error("the forgotten snapshot's held blob is still stored")
	}
	restictest.Check(t, env.repoDir)
}

// Snapshots sharing folders, and one the same tree as the one before:
// each folder is rewritten once and reused, and every snapshot still
// counts what was removed from it.
func TestEraseSharedFolders(t *testing.T) {
	ctx := context.Background()
	env := newEnv(t, 1)
	repo := env.open(t)
	// A copy of the first snapshot a day later, of the same tree.
	same := *env.snaps[0]
	same.ID, same.Time = repository.ID{}, same.Time.AddDate(0, 0, 1)
	id, err := repo.SaveSnapshot(ctx, &same)
	if err != nil {
		t.Fatal(err)
	}
	same.ID = id
	env.snaps = append(env.snaps, &same)
	// A backup that differs in one file at the top only.
	if err := os.WriteFile(filepath.Join(env.src, "dagbok.txt"), []byte("dag 2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	sn, _, err := archiver.New(repo, archiver.Options{}).Snapshot(ctx, []string{env.src}, archiver.SnapshotOptions{Time: env.snaps[0].Time.AddDate(0, 0, 2), Hostname: "kontoret", Parent: env.snaps[0]})
	if err != nil {
		t.Fatal(err)
	}
	env.snaps = append(env.snaps, sn)
	if *env.snaps[1].Tree == *env.snaps[2].Tree {
		t.Fatal("the last backup did not change")
	}
	opts := eraseOpts(t)
	opts.Rules.Holds = nil // the invoice row goes too
	res, err := Run(ctx, repo, opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Snapshots) != 3 || !res.Verify.OK {
		t.Fatalf("result: %+v", res)
	}
	for i, s := range res.Snapshots {
		r := s.Removed
		if s.New == nil || r.FilesRedacted != 3 || r.FilesDropped != 2 || r.DirsDropped != 1 || r.Records[formats.FormatCSV] != 2 || r.Records[formats.FormatMbox] != 1 {
			t.Errorf("snapshot %d: new %v, removed %+v", i, s.New, r)
		}
		if r.Bytes != res.Snapshots[0].Removed.Bytes || len(s.Held) != 0 {
			t.Errorf("snapshot %d: removed %d bytes, held %v; the first %d bytes", i, r.Bytes, s.Held, res.Snapshots[0].Removed.Bytes)
		}
	}
	if res.Verify.FilesChecked != 9 {
		t.Errorf("verified %d files, want the 3 redacted in each snapshot", res.Verify.FilesChecked)
	}
	restictest.Check(t, env.repoDir)
	checkNoBlobHolds(t, env)
	var snaps []resticSnapshot
	if err := json.Unmarshal([]byte(restictest.Run(t, env.repoDir, "snapshots", "--json")), &snaps); err != nil {
		t.Fatal(err)
	}
	for _, s := range snaps {
		dst := t.TempDir()
		restictest.Run(t, env.repoDir, "restore", s.ID, "--target", dst)
		for name, want := range map[string]string{
			"kunder.csv":             csvKeep + csvTail,
			"mail/inbox.mbox":        mailBo + mailCia,
			"bokforing/fakturor.csv": "nr,kund,belopp\n18,bo.ek@example.se,200\n",
		} {
			got, err := os.ReadFile(filepath.Join(dst, env.src, name))
			if err != nil || string(got) != want {
				t.Errorf("snapshot %s: %s restored as %q (%v), want %q", s.ID, name, got, err, want)
			}
		}
	}
}
