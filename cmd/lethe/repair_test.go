package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"lethe/agent/repository/restictest"
)

// damagedRepo is a repository with three backups of a changing tree and
// what each backup added, restored before anything was damaged.
type damagedRepo struct {
	base, src, repo string
	// ids are the snapshots, oldest first; added[i] the files of the
	// repository (relative paths) that backup i wrote.
	ids   []string
	added []map[string]bool
	// golden[i] is snapshot i restored while the repository was whole.
	golden []string
}

// repoFiles lists the files under the repository's dir (snapshots, index,
// data, locks), as paths relative to the repository.
func repoFiles(t *testing.T, repo, dir string) map[string]bool {
	t.Helper()
	m := map[string]bool{}
	err := filepath.WalkDir(filepath.Join(repo, dir), func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			rel, _ := filepath.Rel(repo, p)
			m[rel] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// newDamagedRepo makes three daily backups; each day replaces dagens.bin
// with 200 KiB of new random data.
func newDamagedRepo(t *testing.T) *damagedRepo {
	t.Helper()
	setupEnv(t)
	d := &damagedRepo{base: t.TempDir()}
	d.src, d.repo = filepath.Join(d.base, "src"), filepath.Join(d.base, "repo")
	writeTree(t, d.src)
	mustLethe(t, "-r", d.repo, "init")
	for day := 1; day <= 3; day++ {
		rng := rand.New(rand.NewPCG(uint64(day), 42))
		data := make([]byte, 200<<10)
		for i := range data {
			data[i] = byte(rng.Uint32())
		}
		if err := os.WriteFile(filepath.Join(d.src, "dagens.bin"), data, 0o644); err != nil {
			t.Fatal(err)
		}
		before := repoFiles(t, d.repo, ".")
		mustLethe(t, "-r", d.repo, "backup", "-q", "--host", "server1", "--time", fmt.Sprintf("2026-11-%02d 02:00:00", day), d.src)
		added := map[string]bool{}
		for f := range repoFiles(t, d.repo, ".") {
			if !before[f] && !strings.HasPrefix(f, "locks"+string(filepath.Separator)) {
				added[f] = true
			}
		}
		d.added = append(d.added, added)
	}
	for _, sn := range snapshots(t, d.repo) {
		d.ids = append(d.ids, sn.ID)
	}
	for i, id := range d.ids {
		target := filepath.Join(d.base, fmt.Sprintf("golden%d", i))
		mustLethe(t, "-r", d.repo, "restore", id, "--target", target)
		d.golden = append(d.golden, target)
	}
	return d
}

// file returns the one file backup i added under dir, or with dir
// "data" the largest data pack (the one holding dagens.bin).
func (d *damagedRepo) file(t *testing.T, i int, dir string) string {
	t.Helper()
	var best string
	var bestSize int64 = -1
	for f := range d.added[i] {
		if !strings.HasPrefix(f, dir+string(filepath.Separator)) {
			continue
		}
		fi, err := os.Stat(filepath.Join(d.repo, f))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Size() > bestSize {
			best, bestSize = f, fi.Size()
		}
	}
	if best == "" {
		t.Fatalf("backup %d added nothing under %s", i, dir)
	}
	return filepath.Join(d.repo, best)
}

// damage damages the file at path in one of the ways a disk or an
// interrupted copy does.
func damage(t *testing.T, kind, path string) {
	t.Helper()
	buf, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	switch kind {
	case "corrupt":
		buf = bytes.Clone(buf)
		buf[len(buf)/3] ^= 0x01
	case "empty":
		buf = nil
	case "truncated":
		buf = buf[:len(buf)/2]
	case "missing":
		if err := os.Remove(path); err != nil {
			t.Fatal(err)
		}
		return
	default:
		t.Fatalf("unknown damage %q", kind)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf, 0o600); err != nil {
		t.Fatal(err)
	}
}

// nextBackup runs the next nightly backup, which must succeed.
func (d *damagedRepo) nextBackup(t *testing.T) (stdout, stderr string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(d.src, "ny.txt"), []byte("day 4\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := lethe(t, "-r", d.repo, "backup", "--host", "server1", "--time", "2026-11-04 02:00:00", d.src)
	if code != 0 {
		t.Fatalf("backup after the damage: exit %d\n%s\n%s", code, out, errOut)
	}
	return out, errOut
}

// checkFails runs lethe check, which must fail naming every object in
// want, and returns its output.
func (d *damagedRepo) checkFails(t *testing.T, readData bool, want ...string) string {
	t.Helper()
	args := []string{"-r", d.repo, "check"}
	if readData {
		args = append(args, "--read-data")
	}
	out, errOut, code := lethe(t, args...)
	if code == 0 {
		t.Fatalf("check passed a damaged repository:\n%s\n%s", out, errOut)
	}
	for _, w := range want {
		if !strings.Contains(errOut, w) {
			t.Errorf("check does not name %s:\n%s", w, errOut)
		}
	}
	return errOut
}

// clean asserts that lethe's and restic's full checks pass and that the
// snapshots keep restore exactly what they restored before the damage.
func (d *damagedRepo) clean(t *testing.T, keep ...int) {
	t.Helper()
	out, errOut, code := lethe(t, "-r", d.repo, "check", "--read-data")
	if code != 0 || !strings.Contains(out, "no errors were found") || strings.Contains(errOut, "warning") {
		t.Fatalf("lethe check after repair: exit %d\n%s\n%s", code, out, errOut)
	}
	restictest.Check(t, d.repo)
	for _, i := range keep {
		target := filepath.Join(t.TempDir(), "restore")
		mustLethe(t, "-r", d.repo, "restore", d.ids[i], "--target", target)
		if err := compareTrees(d.golden[i], target); err != nil {
			t.Fatalf("snapshot %d after repair: %v", i, err)
		}
	}
}

func idOf(path string) string { return filepath.Base(path) }

var damageKinds = []string{"corrupt", "empty", "truncated"}

func TestDamagedSnapshot(t *testing.T) {
	for _, kind := range damageKinds {
		t.Run(kind, func(t *testing.T) {
			d := newDamagedRepo(t)
			bad := d.file(t, 2, "snapshots") // the latest
			damage(t, kind, bad)
			short := idOf(bad)[:8]

			out, errOut, code := lethe(t, "-r", d.repo, "snapshots")
			if code != 0 || !strings.Contains(errOut, short) || !strings.Contains(out, "2 snapshots") {
				t.Fatalf("snapshots with a damaged one: exit %d\n%s\n%s", code, out, errOut)
			}
			// latest is the newest snapshot that loads.
			target := filepath.Join(t.TempDir(), "latest")
			mustLethe(t, "-r", d.repo, "restore", "latest", "--target", target)
			if err := compareTrees(d.golden[1], target); err != nil {
				t.Fatalf("restore latest: %v", err)
			}
			out, _ = d.nextBackup(t)
			if !strings.Contains(out, "using parent snapshot "+d.ids[1][:8]) {
				t.Errorf("backup did not build on the newest loadable snapshot:\n%s", out)
			}
			d.checkFails(t, false, "snapshot "+idOf(bad))
			// A damaged snapshot cannot be repaired, only forgotten.
			mustLethe(t, "-r", d.repo, "forget", short)
			if _, err := os.Stat(bad); !os.IsNotExist(err) {
				t.Fatalf("forget left the damaged snapshot: %v", err)
			}
			d.clean(t, 0, 1)
		})
	}
}

func TestDamagedIndex(t *testing.T) {
	for _, kind := range damageKinds {
		t.Run(kind, func(t *testing.T) {
			d := newDamagedRepo(t)
			bad := d.file(t, 1, "index")
			damage(t, kind, bad)

			_, errOut := d.nextBackup(t)
			if !strings.Contains(errOut, idOf(bad)[:8]) {
				t.Errorf("backup does not report the damaged index:\n%s", errOut)
			}
			target := filepath.Join(t.TempDir(), "restore")
			mustLethe(t, "-r", d.repo, "restore", d.ids[1], "--target", target)
			if err := compareTrees(d.golden[1], target); err != nil {
				t.Fatalf("restore with a damaged index: %v", err)
			}
			errOut = d.checkFails(t, true, "index "+idOf(bad))
			if !strings.Contains(errOut, "lethe repair index") {
				t.Errorf("check does not suggest repair index:\n%s", errOut)
			}
			mustLethe(t, "-r", d.repo, "repair", "index")
			d.clean(t, 0, 1, 2)
		})
	}
}

func TestDamagedPack(t *testing.T) {
	for _, kind := range append(slices.Clone(damageKinds), "missing") {
		t.Run(kind, func(t *testing.T) {
			d := newDamagedRepo(t)
			bad := d.file(t, 1, "data") // holds day 2's dagens.bin
			damage(t, kind, bad)

			d.nextBackup(t)
			errOut := d.checkFails(t, true, "pack "+idOf(bad))
			if kind == "missing" {
				mustLethe(t, "-r", d.repo, "repair", "index")
			} else {
				if !strings.Contains(errOut, "lethe repair packs "+idOf(bad)) {
					t.Errorf("check does not suggest repair packs:\n%s", errOut)
				}
				mustLethe(t, "-r", d.repo, "repair", "packs", idOf(bad))
			}
			out := mustLethe(t, "-r", d.repo, "repair", "snapshots", "--forget")
			if !strings.Contains(out, "dagens.bin") {
				t.Errorf("repair snapshots does not say what it removed:\n%s", out)
			}
			d.clean(t, 0, 2)
			// The repaired snapshot keeps everything but the lost file
			// content and points to its original.
			var l []struct {
				ID       string   `json:"id"`
				Original string   `json:"original"`
				Tags     []string `json:"tags"`
			}
			if err := json.Unmarshal([]byte(mustLethe(t, "-r", d.repo, "snapshots", "--json")), &l); err != nil {
				t.Fatal(err)
			}
			var repaired int
			for _, sn := range l {
				if sn.Original == d.ids[1] && slices.Contains(sn.Tags, "repaired") {
					repaired++
				}
			}
			if len(l) != 4 || repaired != 1 {
				t.Errorf("snapshots after repair: %+v", l)
			}
		})
	}
}

// TestDamagedParentTree: the latest backup's trees are damaged; the next
// backup does not fail on its parent and does not build on it, so once
// the damaged pack is removed and the snapshots are repaired, the new
// snapshot is untouched and restores whole. (That a blob found damaged
// is stored again is TestDamagedBlobStoredAgain in agent/repository.)
func TestDamagedParentTree(t *testing.T) {
	d := newDamagedRepo(t)
	// The smallest data pack of the last backup holds its trees.
	var trees string
	var size int64 = 1 << 62
	for f := range d.added[2] {
		if strings.HasPrefix(f, "data"+string(filepath.Separator)) {
			if fi, err := os.Stat(filepath.Join(d.repo, f)); err == nil && fi.Size() < size {
				trees, size = filepath.Join(d.repo, f), fi.Size()
			}
		}
	}
	// Damage the first blob, at the pack's start (not the header, which
	// backup does not read).
	buf, err := os.ReadFile(trees)
	if err != nil {
		t.Fatal(err)
	}
	buf[16] ^= 0x01
	if err := os.Chmod(trees, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(trees, buf, 0o600); err != nil {
		t.Fatal(err)
	}
	out, errOut := d.nextBackup(t)
	var newID string
	for _, sn := range snapshots(t, d.repo) {
		if !slices.Contains(d.ids, sn.ID) {
			newID = sn.ID
		}
	}
	if newID == "" {
		t.Fatalf("no new snapshot:\n%s\n%s", out, errOut)
	}
	d.checkFails(t, true, "pack "+idOf(trees))
	mustLethe(t, "-r", d.repo, "repair", "packs", idOf(trees))
	out = mustLethe(t, "-r", d.repo, "repair", "snapshots", "--forget")
	if strings.Contains(out, newID[:8]) {
		t.Errorf("repair snapshots changed the backup made after the damage:\n%s", out)
	}
	d.clean(t, 0, 1)
	target := filepath.Join(t.TempDir(), "restore")
	mustLethe(t, "-r", d.repo, "restore", newID, "--target", target)
	if err := compareTrees(d.src, filepath.Join(target, d.src)); err != nil {
		t.Fatalf("the backup made after the damage: %v", err)
	}
}

func TestDamagedLock(t *testing.T) {
	d := newDamagedRepo(t)
	lock := filepath.Join(d.repo, "locks", strings.Repeat("ab", 32))
	if err := os.WriteFile(lock, []byte("not a lock"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, errOut := d.nextBackup(t)
	if !strings.Contains(errOut, "abababab") {
		t.Errorf("backup does not report the damaged lock:\n%s", errOut)
	}
	out, errOut, code := lethe(t, "-r", d.repo, "check")
	if code != 0 || !strings.Contains(errOut, "lock "+idOf(lock)) || !strings.Contains(errOut, "lethe unlock") {
		t.Errorf("check with a damaged lock: exit %d\n%s\n%s", code, out, errOut)
	}
	mustLethe(t, "-r", d.repo, "unlock")
	if _, err := os.Stat(lock); !os.IsNotExist(err) {
		t.Fatalf("unlock left the damaged lock: %v", err)
	}
	d.clean(t, 0, 1, 2)
}

func TestNoRepositorySuggestsInit(t *testing.T) {
	setupEnv(t)
	base := t.TempDir()
	for _, repo := range []string{filepath.Join(base, "nothing"), base} {
		_, errOut, code := lethe(t, "-r", repo, "snapshots")
		if code != exitError || !strings.Contains(errOut, "is not a repository") || !strings.Contains(errOut, "`lethe init`") {
			t.Errorf("snapshots of %s: exit %d, stderr %q: want a hint to run lethe init", filepath.Base(repo), code, errOut)
		}
	}
}
