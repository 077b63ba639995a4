package s3_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"lethe/backends"
	"lethe/backends/backendtest"
	"lethe/backends/s3"
	"lethe/backends/s3test"
)

const resticBin = "/usr/bin/restic"

func testOptions(srv *s3test.Server) s3.Options {
	return s3.Options{
		Region:             srv.Region,
		AccessKeyID:        srv.AccessKey,
		SecretAccessKey:    srv.SecretKey,
		Connections:        8,
		MultipartThreshold: s3.MinPartSize,
		PartSize:           s3.MinPartSize,
		MaxBackoff:         500 * time.Millisecond,
	}
}

func create(t *testing.T, srv *s3test.Server, endpoint, bucket, prefix string, opts s3.Options) *s3.Backend {
	t.Helper()
	loc, err := s3.ParseURL("s3:" + endpoint + "/" + bucket + "/" + prefix)
	if err != nil {
		t.Fatal(err)
	}
	be, err := s3.Create(context.Background(), loc, opts)
	if err != nil {
		t.Fatalf("Create %s: %v", loc, err)
	}
	return be
}

// TestS3 runs everything that needs the server under one server start.
func TestS3(t *testing.T) {
	srv := s3test.Start(t)

	t.Run("Suite", func(t *testing.T) {
		t.Run("Plain", func(t *testing.T) {
			backendtest.RunWithOptions(t, func(t *testing.T) backends.Backend {
				return create(t, srv, srv.Endpoint, srv.NewBucket(t, false), "repo/one", testOptions(srv))
			}, backendtest.Options{ManyObjects: 1100, LargeObject: s3.MinPartSize + 1<<20})
		})
		t.Run("Versioned", func(t *testing.T) {
			opts := testOptions(srv)
			opts.ListMaxKeys = 70
			backendtest.RunWithOptions(t, func(t *testing.T) backends.Backend {
				return create(t, srv, srv.Endpoint, srv.NewBucket(t, true), "", opts)
			}, backendtest.Options{ManyObjects: 150, LargeObject: s3.MinPartSize + 1})
		})
		t.Run("Faults", func(t *testing.T) {
			proxy := s3test.NewFaultProxy(t, srv.Endpoint, s3test.FaultConfig{Seed: 1, Rate: 0.1, Delay: 50 * time.Millisecond})
			opts := testOptions(srv)
			opts.ListMaxKeys = 40
			backendtest.RunWithOptions(t, func(t *testing.T) backends.Backend {
				return create(t, srv, proxy.Endpoint, srv.NewBucket(t, true), "faulty", opts)
			}, backendtest.Options{ManyObjects: 200, LargeObject: s3.MinPartSize + 1})
			for f := s3test.FaultDrop; f <= s3test.FaultCutResponse; f++ {
				if proxy.Count(f) == 0 {
					t.Errorf("fault %v never injected", f)
				}
				t.Logf("fault %v: %d requests", f, proxy.Count(f))
			}
		})
	})

	t.Run("Layout", func(t *testing.T) { testLayout(t, srv) })
	t.Run("VersionedRemove", func(t *testing.T) { testVersionedRemove(t, srv) })
	t.Run("ObjectLock", func(t *testing.T) { testObjectLock(t, srv) })
	t.Run("Errors", func(t *testing.T) { testErrors(t, srv) })
	t.Run("FaultsNothingLost", func(t *testing.T) { testFaultsNothingLost(t, srv) })
	t.Run("ResticInterop", func(t *testing.T) { testResticInterop(t, srv) })
	t.Run("Repository", func(t *testing.T) { testRepositoryOverS3(t, srv) })
}

// TestS3TLS talks HTTPS to a server with a self-signed certificate,
// trusted through the s3.cacert option.
func TestS3TLS(t *testing.T) {
	srv := s3test.StartTLS(t)
	ctx := context.Background()
	bucket := srv.NewBucket(t, false)
	url := "s3:" + srv.Endpoint + "/" + bucket + "/tls"
	opts := testOptions(srv)
	if err := opts.Set("s3.cacert", srv.CACertFile); err != nil {
		t.Fatal(err)
	}
	be, err := s3.Create(ctx, mustParse(t, url), opts)
	if err != nil {
		t.Fatalf("Create over HTTPS: %v", err)
	}
	data := bytes.Repeat([]byte("0123456789abcdef"), (s3.MinPartSize+100)/16)
	for i, size := range []int{1000, len(data)} { // single and multipart
		h := backends.Handle{Type: backends.PackFile, Name: fmt.Sprintf("%064x", i)}
		if err := be.Save(ctx, h, data[:size]); err != nil {
			t.Fatalf("Save over HTTPS: %v", err)
		}
		got, err := backends.LoadAll(ctx, be, h)
		if err != nil || !bytes.Equal(got, data[:size]) {
			t.Fatalf("Load over HTTPS: %d bytes, %v", len(got), err)
		}
	}
	noCA := testOptions(srv)
	noCA.MaxAttempts = 1
	if _, err := s3.Open(ctx, mustParse(t, url), noCA); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("HTTPS without trusting the certificate: %v", err)
	}
}

// testLayout checks the keys are restic's.
func testLayout(t *testing.T, srv *s3test.Server) {
	ctx := context.Background()
	bucket := srv.NewBucket(t, false)
	be := create(t, srv, srv.Endpoint, bucket, "some/prefix/", testOptions(srv))
	id := strings.Repeat("ab", 32)
	for _, h := range []backends.Handle{
		{Type: backends.ConfigFile},
		{Type: backends.PackFile, Name: id},
		{Type: backends.KeyFile, Name: id},
		{Type: backends.LockFile, Name: id},
		{Type: backends.SnapshotFile, Name: id},
		{Type: backends.IndexFile, Name: id},
		{Type: backends.LetheFile, Name: "tombstones/" + id},
	} {
		if err := be.Save(ctx, h, []byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	got := srv.Keys(t, bucket, "")
	sort.Strings(got)
	want := []string{
		"some/prefix/config",
		"some/prefix/data/ab/" + id,
		"some/prefix/index/" + id,
		"some/prefix/keys/" + id,
		"some/prefix/lethe/tombstones/" + id,
		"some/prefix/locks/" + id,
		"some/prefix/snapshots/" + id,
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("keys:\n got %q\nwant %q", got, want)
	}
	if loc := be.Location(); loc != "s3:"+srv.Endpoint+"/"+bucket+"/some/prefix" {
		t.Errorf("Location: %s", loc)
	}
	if _, err := s3.Create(ctx, mustParse(t, "s3:"+srv.Endpoint+"/"+bucket+"/some/prefix"), testOptions(srv)); err == nil {
		t.Error("Create over an existing repository: no error")
	}
	// Open finds it; a pack in a data/ subdirectory of any name is listed
	// (repositories written by other tools).
	be2, err := s3.Open(ctx, mustParse(t, "s3:"+srv.Endpoint+"/"+bucket+"/some/prefix"), testOptions(srv))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := be2.Stat(ctx, backends.Handle{Type: backends.ConfigFile}); err != nil {
		t.Fatal(err)
	}
}

func mustParse(t *testing.T, s string) s3.Location {
	t.Helper()
	loc, err := s3.ParseURL(s)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// testVersionedRemove checks that Remove leaves no version and no delete
// marker of the key, and nothing else is touched.
func testVersionedRemove(t *testing.T, srv *s3test.Server) {
	ctx := context.Background()
	bucket := srv.NewBucket(t, true)
	be := create(t, srv, srv.Endpoint, bucket, "repo", testOptions(srv))
	caps, err := be.Capabilities(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !caps.Versioned || caps.Versioning != "Enabled" || caps.ObjectLock {
		t.Fatalf("Capabilities: %+v", caps)
	}

	lock := backends.Handle{Type: backends.LockFile, Name: strings.Repeat("1", 64)}
	pack := backends.Handle{Type: backends.PackFile, Name: strings.Repeat("2", 64)}
	// A key that extends pack's key: must survive.
	other := backends.Handle{Type: backends.PackFile, Name: strings.Repeat("2", 65)}
	for i := 0; i < 3; i++ { // three versions of the lock
		if err := be.Save(ctx, lock, []byte(fmt.Sprint("lock", i))); err != nil {
			t.Fatal(err)
		}
	}
	for _, h := range []backends.Handle{pack, other} {
		if err := be.Save(ctx, h, []byte("pack")); err != nil {
			t.Fatal(err)
		}
	}
	// A plain DELETE, as restic does, leaves a delete marker and the old
	// version; then the pack is saved again.
	packKey := "repo/data/22/" + pack.Name
	if _, err := srv.Client().DeleteObject(ctx, &awss3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String(packKey)}); err != nil {
		t.Fatal(err)
	}
	if err := be.Save(ctx, pack, []byte("pack again")); err != nil {
		t.Fatal(err)
	}
	if n := len(srv.AllVersions(t, bucket, packKey)); n != 4 { // 2 versions + marker of pack, 1 of other
		t.Fatalf("before Remove: %d versions below %s, want 4", n, packKey)
	}
	if vs, err := be.Versions(ctx, pack); err != nil || len(vs) != 3 {
		t.Fatalf("Versions(pack): %v, %v; want 3", vs, err)
	}

	for _, h := range []backends.Handle{lock, pack} {
		if err := be.Remove(ctx, h); err != nil {
			t.Fatalf("Remove %v: %v", h, err)
		}
	}
	for _, v := range srv.AllVersions(t, bucket, "") {
		if v.Key == packKey || v.Key == "repo/locks/"+lock.Name {
			t.Errorf("after Remove: %+v still there", v)
		}
	}
	if _, err := be.Stat(ctx, other); err != nil {
		t.Errorf("neighbour key removed: %v", err)
	}
	if err := be.Remove(ctx, pack); !backends.IsNotExist(err) {
		t.Errorf("Remove again: got %v, want not-exist", err)
	}
}

// testObjectLock checks that Object Lock is detected and that removal of a
// retained object reports it as not deleted.
func testObjectLock(t *testing.T, srv *s3test.Server) {
	ctx := context.Background()
	plain := create(t, srv, srv.Endpoint, srv.NewBucket(t, false), "", testOptions(srv))
	caps, err := plain.Capabilities(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if caps.Versioned || caps.ObjectLock {
		t.Errorf("plain bucket: Capabilities %+v", caps)
	}

	bucket := srv.NewLockedBucket(t)
	be := create(t, srv, srv.Endpoint, bucket, "", testOptions(srv))
	caps, err = be.Capabilities(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !caps.ObjectLock || !caps.Versioned {
		t.Fatalf("locked bucket: Capabilities %+v", caps)
	}
	h := backends.Handle{Type: backends.SnapshotFile, Name: strings.Repeat("3", 64)}
	if err := be.Save(ctx, h, []byte("sealed")); err != nil {
		t.Fatal(err)
	}
	_, err = srv.Client().PutObjectRetention(ctx, &awss3.PutObjectRetentionInput{
		Bucket: aws.String(bucket),
		Key:    aws.String("snapshots/" + h.Name),
		Retention: &types.ObjectLockRetention{
			Mode:            types.ObjectLockRetentionModeCompliance,
			RetainUntilDate: aws.Time(time.Now().Add(time.Hour)),
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	err = be.Remove(ctx, h)
	if err == nil || !strings.Contains(err.Error(), "not deleted") {
		t.Fatalf("Remove of a retained object: got %v, want an error saying it was not deleted", err)
	}
	if got, err := backends.LoadAll(ctx, be, h); err != nil || string(got) != "sealed" {
		t.Errorf("retained object after failed Remove: %q, %v", got, err)
	}
	t.Logf("Remove under retention: %v", err)
}

func testErrors(t *testing.T, srv *s3test.Server) {
	ctx := context.Background()
	opts := testOptions(srv)
	opts.MaxAttempts = 2

	_, err := s3.Open(ctx, mustParse(t, "s3:"+srv.Endpoint+"/no-such-bucket/x"), opts)
	if err == nil || !strings.Contains(err.Error(), `"no-such-bucket"`) || !strings.Contains(err.Error(), "does not exist") || backends.IsNotExist(err) {
		t.Errorf("missing bucket: %v", err)
	}

	bucket := srv.NewBucket(t, false)
	bad := opts
	bad.SecretAccessKey = "wrong-secret-value"
	_, err = s3.Open(ctx, mustParse(t, "s3:"+srv.Endpoint+"/"+bucket), bad)
	if err == nil || !strings.Contains(err.Error(), bucket) || strings.Contains(err.Error(), "wrong-secret-value") {
		t.Errorf("wrong secret: %v", err)
	}
	t.Logf("wrong secret: %v", err)
	bad = opts
	bad.AccessKeyID = "nobody"
	be, err := s3.Open(ctx, mustParse(t, "s3:"+srv.Endpoint+"/"+bucket), opts)
	if err != nil {
		t.Fatal(err)
	}
	_ = be
	_, err = s3.Open(ctx, mustParse(t, "s3:"+srv.Endpoint+"/"+bucket), bad)
	if err == nil || !strings.Contains(err.Error(), "credentials") {
		t.Errorf("unknown access key: %v", err)
	}

	wrong := opts
	wrong.Region = "eu-north-1"
	be, err = s3.Open(ctx, mustParse(t, "s3:"+srv.Endpoint+"/"+bucket), wrong)
	if err == nil {
		err = be.Save(ctx, backends.Handle{Type: backends.ConfigFile}, []byte("x"))
	}
	if err == nil || !strings.Contains(err.Error(), "region") || !strings.Contains(err.Error(), bucket) {
		t.Errorf("wrong region: %v", err)
	}
	t.Logf("wrong region: %v", err)

	// A server that is gone: bounded retries, then an error.
	dead := opts
	dead.MaxAttempts = 3
	dead.MaxBackoff = 10 * time.Millisecond
	_, err = s3.Open(ctx, mustParse(t, "s3:http://127.0.0.1:1/"+bucket), dead)
	if err == nil {
		t.Error("unreachable server: no error")
	}
}

// testFaultsNothingLost saves, lists, loads and removes many objects through
// the fault proxy and checks every byte on the server directly.
func testFaultsNothingLost(t *testing.T, srv *s3test.Server) {
	ctx := context.Background()
	proxy := s3test.NewFaultProxy(t, srv.Endpoint, s3test.FaultConfig{Seed: 42, Rate: 0.2, Delay: 20 * time.Millisecond})
	bucket := srv.NewBucket(t, true)
	opts := testOptions(srv)
	opts.ListMaxKeys = 25
	faulty := create(t, srv, proxy.Endpoint, bucket, "r", opts)
	direct, err := s3.Open(ctx, mustParse(t, srv.URL(bucket, "r")), testOptions(srv))
	if err != nil {
		t.Fatal(err)
	}

	const n = 120
	want := map[string][]byte{}
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("%064x", i)
		size := 100 + i*997
		if i == 7 {
			size = s3.MinPartSize + 12345 // multipart
		}
		data := bytes.Repeat([]byte{byte(i)}, size)
		copy(data, name)
		want[name] = data
	}
	errs := make(chan error, n)
	sem := make(chan struct{}, 8)
	for name, data := range want {
		sem <- struct{}{}
		go func() {
			defer func() { <-sem }()
			errs <- faulty.Save(ctx, backends.Handle{Type: backends.PackFile, Name: name}, data)
		}()
	}
	for i := 0; i < n; i++ {
		if err := <-errs; err != nil {
			t.Fatalf("Save through faults: %v", err)
		}
	}
	listed := map[string]int64{}
	if err := faulty.List(ctx, backends.PackFile, func(fi backends.FileInfo) error {
		listed[fi.Name] = fi.Size
		return nil
	}); err != nil {
		t.Fatalf("List through faults: %v", err)
	}
	if len(listed) != n {
		t.Fatalf("List through faults: %d objects, want %d", len(listed), n)
	}
	for name, data := range want {
		h := backends.Handle{Type: backends.PackFile, Name: name}
		if listed[name] != int64(len(data)) {
			t.Errorf("List: %s size %d, want %d", name, listed[name], len(data))
		}
		got, err := backends.LoadAll(ctx, direct, h)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("stored %s differs (%d bytes, %v)", name, len(got), err)
		}
		got, err = backends.LoadAll(ctx, faulty, h)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("Load through faults %s: %d bytes, %v", name, len(got), err)
		}
		var part []byte
		err = faulty.Load(ctx, h, 50, 10, func(rd io.Reader) error {
			part, err = io.ReadAll(rd)
			return err
		})
		if err != nil || !bytes.Equal(part, data[10:60]) {
			t.Fatalf("ranged Load through faults %s: %v", name, err)
		}
	}
	removed := 0
	for name := range want {
		if removed == n/2 {
			break
		}
		if err := faulty.Remove(ctx, backends.Handle{Type: backends.PackFile, Name: name}); err != nil {
			t.Fatalf("Remove through faults: %v", err)
		}
		delete(want, name)
		removed++
	}
	left := map[string]bool{}
	for _, v := range srv.AllVersions(t, bucket, "r/data/") {
		if v.DeleteMarker {
			t.Errorf("delete marker left: %s", v.Key)
		}
		left[filepathBase(v.Key)] = true
	}
	for name := range want {
		if !left[name] {
			t.Errorf("%s lost", name)
		}
	}
	if len(left) != len(want) {
		t.Errorf("%d keys with versions left, want %d", len(left), len(want))
	}
	if proxy.Faults() == 0 {
		t.Error("no fault injected")
	}
	t.Logf("faults injected: %d", proxy.Faults())
}

func filepathBase(key string) string { return key[strings.LastIndex(key, "/")+1:] }

// testResticInterop has restic write a repository to S3 and checks lethe's
// backend sees every object restic stored, with the same content.
func testResticInterop(t *testing.T, srv *s3test.Server) {
	ctx := context.Background()
	if _, err := os.Stat(resticBin); err != nil {
		t.Fatalf("restic not installed: %v", err)
	}
	bucket := srv.NewBucket(t, false)
	url := srv.URL(bucket, "restic/repo")
	src := t.TempDir()
	for i := 0; i < 20; i++ {
		if err := os.WriteFile(filepath.Join(src, fmt.Sprintf("f%d.txt", i)), bytes.Repeat([]byte(fmt.Sprintf("file %d\n", i)), 1000*i+1), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	restic := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(resticBin, append([]string{"-r", url, "--no-cache"}, args...)...)
		cmd.Env = append(os.Environ(), srv.Env()...)
		cmd.Env = append(cmd.Env, "RESTIC_PASSWORD=interop-test", "HOME="+t.TempDir())
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("restic %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	restic("init")
	restic("backup", "--host", "h", src)
	restic("backup", "--host", "h", src)

	be, err := s3.Open(ctx, mustParse(t, url), testOptions(srv))
	if err != nil {
		t.Fatal(err)
	}
	keys := srv.Keys(t, bucket, "restic/repo/")
	counted := 0
	for _, typ := range backends.FileTypes {
		err := be.List(ctx, typ, func(fi backends.FileInfo) error {
			counted++
			h := backends.Handle{Type: typ, Name: fi.Name}
			data, err := backends.LoadAll(ctx, be, h)
			if err != nil {
				return err
			}
			if int64(len(data)) != fi.Size {
				return fmt.Errorf("%v: loaded %d bytes, listed %d", h, len(data), fi.Size)
			}
			return nil
		})
		if err != nil {
			t.Fatalf("List %s of the restic repository: %v", typ, err)
		}
	}
	if counted != len(keys) {
		t.Errorf("lethe listed %d objects, the bucket holds %d: %q", counted, len(keys), keys)
	}
	snaps := 0
	_ = be.List(ctx, backends.SnapshotFile, func(backends.FileInfo) error { snaps++; return nil })
	if snaps != 2 {
		t.Errorf("%d snapshots, want 2", snaps)
	}

	openResticRepo(t, be, "interop-test", 2)

	// lethe copies the repository object by object into another prefix
	// through its own Save: restic must read the copy as its own.
	copyURL := srv.URL(bucket, "copy")
	dst := create(t, srv, srv.Endpoint, bucket, "copy", testOptions(srv))
	for _, typ := range backends.FileTypes {
		err := be.List(ctx, typ, func(fi backends.FileInfo) error {
			h := backends.Handle{Type: typ, Name: fi.Name}
			if typ == backends.ConfigFile {
				h.Name = ""
			}
			data, err := backends.LoadAll(ctx, be, h)
			if err != nil {
				return err
			}
			return dst.Save(ctx, h, data)
		})
		if err != nil {
			t.Fatalf("copying %s: %v", typ, err)
		}
	}
	url = copyURL
	out := restic("check", "--read-data")
	if !strings.Contains(out, "no errors were found") {
		t.Errorf("restic check of lethe's copy: %s", out)
	}
	target := t.TempDir()
	restic("restore", "latest", "--target", target)
	for i := 0; i < 20; i++ {
		name := fmt.Sprintf("f%d.txt", i)
		want, _ := os.ReadFile(filepath.Join(src, name))
		got, err := os.ReadFile(filepath.Join(target, src, name))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("restic restore from lethe's copy: %s differs (%v)", name, err)
		}
	}
}
