package location

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"lethe/backends"
	"lethe/backends/s3"
	"lethe/backends/s3test"
)

func TestParseLocal(t *testing.T) {
	for _, c := range []struct{ in, dir string }{
		{"/srv/backup/repo", "/srv/backup/repo"},
		{"local:/srv/backup/repo", "/srv/backup/repo"},
		{"relative/repo", "relative/repo"},
		{"local:relative", "relative"},
	} {
		// Options mean nothing to a local repository; restic ignores
		// them there too.
		l, err := Parse(c.in, []string{"s3.region=eu-north-1", "junk"})
		if err != nil {
			t.Errorf("Parse(%q): %v", c.in, err)
			continue
		}
		if l.Kind != Local || l.Dir != c.dir || l.String() != c.dir {
			t.Errorf("Parse(%q) = %+v (%s), want local %s", c.in, l, l, c.dir)
		}
	}
}

func TestParseS3(t *testing.T) {
	l, err := Parse("s3:https://s3.example.net:9000/bucket/some/prefix", []string{
		"s3.region=eu-north-1", "s3.path-style=true", "s3.connections=9", "s3.max-backoff=3s",
	})
	if err != nil {
		t.Fatal(err)
	}
	want := s3.Location{Endpoint: "s3.example.net:9000", Bucket: "bucket", Prefix: "some/prefix"}
	if l.Kind != S3 || l.S3 != want {
		t.Errorf("location %+v, want %+v", l.S3, want)
	}
	o := l.S3Options
	if o.Region != "eu-north-1" || o.BucketLookup != s3.LookupPath || o.Connections != 9 || o.MaxBackoff != 3*time.Second {
		t.Errorf("options %+v", o)
	}
	if got := l.String(); got != "s3:s3.example.net:9000/bucket/some/prefix" {
		t.Errorf("String() = %q", got)
	}
	// Later options override earlier ones, in command-line order.
	l, err = Parse("s3:host/bucket", []string{"s3.path-style=true", "s3.bucket-lookup=dns"})
	if err != nil || l.S3Options.BucketLookup != s3.LookupDNS {
		t.Errorf("bucket lookup %q, %v: want the later option's dns", l.S3Options.BucketLookup, err)
	}
}

func TestParseErrors(t *testing.T) {
	for _, c := range []struct {
		loc     string
		options []string
		want    string
	}{
		{"", nil, "no repository location given"},
		{"local:", nil, `"local:" names no directory`},
		{"s3:", nil, "parsing S3 URL"},
		{"s3:https://user:secret@host/bucket", nil, "credentials in the URL"},
		{"s3:host/bucket", []string{"s3.region"}, `invalid option "s3.region": want key=value`},
		{"s3:host/bucket", []string{"=x"}, `invalid option "=x": want key=value`},
		{"s3:host/bucket", []string{"region=eu-north-1"}, `unknown option "region": s3 repositories take s3.* options`},
		{"s3:host/bucket", []string{"s3.colour=blue"}, "unknown option s3.colour (known: region,"},
		{"s3:host/bucket", []string{"s3.connections=0"}, "option s3.connections: want a number from 1 to 1000"},
	} {
		_, err := Parse(c.loc, c.options)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Parse(%q, %q): %v, want an error containing %q", c.loc, c.options, err, c.want)
		}
		if err != nil && strings.Contains(err.Error(), "secret") {
			t.Errorf("Parse(%q): the error shows the secret: %v", c.loc, err)
		}
	}
}

func TestOpenLocal(t *testing.T) {
	ctx := context.Background()
	base := t.TempDir()

	missing := filepath.Join(base, "nothing")
	_, err := mustParse(t, missing).Open(ctx)
	if err == nil || !strings.Contains(err.Error(), missing) {
		t.Errorf("opening a missing directory: %v, want an error naming it", err)
	}

	plain := filepath.Join(base, "plain")
	if err := os.Mkdir(plain, 0o700); err != nil {
		t.Fatal(err)
	}
	_, err = mustParse(t, "local:"+plain).Open(ctx)
	if want := plain + " is not a repository: no config file"; err == nil || err.Error() != want {
		t.Errorf("opening a directory without config: %v, want %q", err, want)
	}

	if !errors.Is(err, ErrNoRepository) {
		t.Errorf("opening a directory without config: %v does not wrap ErrNoRepository", err)
	}
	absent := filepath.Join(base, "absent")
	_, err = mustParse(t, absent).Open(ctx)
	if want := absent + " is not a repository: the directory does not exist"; err == nil || err.Error() != want || !errors.Is(err, ErrNoRepository) {
		t.Errorf("opening a directory that does not exist: %v, want %q", err, want)
	}

	file := filepath.Join(base, "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := mustParse(t, file).Open(ctx); err == nil || !strings.Contains(err.Error(), "not a directory") {
		t.Errorf("opening a file: %v", err)
	}

	repo := filepath.Join(base, "repo")
	l := mustParse(t, "local:"+repo)
	be, err := l.Create(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"keys", "locks", "snapshots", "index", "lethe", "data/00", "data/ff"} {
		if fi, err := os.Stat(filepath.Join(repo, d)); err != nil || !fi.IsDir() {
			t.Errorf("created layout lacks %s: %v", d, err)
		}
	}
	if _, err := l.Open(ctx); err == nil || !strings.Contains(err.Error(), "is not a repository") {
		t.Errorf("opening a layout without config: %v", err)
	}
	config := []byte("a config")
	if err := be.Save(ctx, backends.Handle{Type: backends.ConfigFile}, config); err != nil {
		t.Fatal(err)
	}
	be, err = l.Open(ctx)
	if err != nil {
		t.Fatalf("opening the repository: %v", err)
	}
	if be.Location() != repo {
		t.Errorf("location %q, want %q", be.Location(), repo)
	}
	got, err := backends.LoadAll(ctx, be, backends.Handle{Type: backends.ConfigFile})
	if err != nil || string(got) != string(config) {
		t.Errorf("config read back as %q, %v", got, err)
	}
	if _, err := l.Create(ctx); err == nil || !strings.Contains(err.Error(), "config file already exists") {
		t.Errorf("creating over a repository: %v", err)
	}
}

func TestS3(t *testing.T) {
	s := s3test.Start(t)
	for _, kv := range s.Env() {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	ctx := context.Background()
	// Create makes the bucket; Open connects to it.
	l, err := Parse(s.URL("fresh-bucket", "repo"), []string{"s3.max-backoff=100ms"})
	if err != nil {
		t.Fatal(err)
	}
	be, err := l.Create(ctx)
	if err != nil {
		t.Fatal(err)
	}
	h := backends.Handle{Type: backends.ConfigFile}
	if err := be.Save(ctx, h, []byte("a config")); err != nil {
		t.Fatal(err)
	}
	be.Close()
	be, err = l.Open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer be.Close()
	if got, err := backends.LoadAll(ctx, be, h); err != nil || string(got) != "a config" {
		t.Errorf("config read back as %q, %v", got, err)
	}
	if be.Location() != l.String() {
		t.Errorf("backend location %q, parsed %q", be.Location(), l.String())
	}
	if _, err := l.Create(ctx); err == nil || !strings.Contains(err.Error(), "config file already exists") {
		t.Errorf("creating over a repository: %v", err)
	}
	missing, err := Parse(s.URL("no-such-bucket", ""), []string{"s3.max-backoff=100ms"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := missing.Open(ctx); err == nil || !strings.Contains(err.Error(), "no-such-bucket") {
		t.Errorf("opening a missing bucket: %v, want an error naming it", err)
	}
}

func mustParse(t *testing.T, loc string) Location {
	t.Helper()
	l, err := Parse(loc, nil)
	if err != nil {
		t.Fatal(err)
	}
	return l
}
